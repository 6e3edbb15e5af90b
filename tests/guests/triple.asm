; SPDX-License-Identifier: GPL-3.0-or-later
;
; triple: makes the vCPU triple-fault. It switches to 32-bit protected mode,
; loads an IDT with limit 0 and executes ud2: #UD cannot be delivered (#GP),
; neither can the #GP (#DF), nor the #DF: shutdown. The VMM must exit with
; status 1 and one stderr line naming the exit and the guest RIP; the guest
; prints that RIP first ("triple: ud2 at 000f....").
;
; On the way it also checks the firmware mapping (docs/vmdesk-vmm.md: the
; image is read-only, just below 4 GiB, its tail also ending at 0xFFFFF):
;   "rom: read-only ok|bad"      a write to the ROM does not stick
;   "rom: at 4 GiB ok|bad"       0xFFFF0000-0xFFFFFFFF holds the same bytes
;                                as 0xF0000-0xFFFFF (spot checks)
;
; Why not real mode: on hosts where KVM emulates real mode (PVM), the
; emulator delivers real-mode interrupts without checking the IVT limit, so
; a real-mode "lidt limit 0; int3" does not triple-fault there.
; The GDT sits in the ROM, so its descriptors have the accessed bit preset
; (0x9B, 0x93): loading a descriptor must not need a write to it.

bits 16
org 0
%include "lib.inc"

%define LIN(x) (0xF0000 + (x))

start:
    REALMODE_SETUP
    SERIAL_INIT
    mov si, msg
    call puts
    mov eax, LIN(fault)
    call puthex32
    call crlf

    ; A write to the ROM must be ignored.
    mov si, msg_ro
    call puts
    mov al, [cs:rom_byte]
    not al
    mov [cs:rom_byte], al
    cmp [cs:rom_byte], al
    call okbad_ne

    lgdt [cs:gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:LIN(pm)

bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000

    ; The image also sits at 0xFFFF0000 (it is 64 KiB): compare a few dwords.
    mov esi, LIN(msg_bad32)
    mov eax, [0xFFFFFFF0]           ; reset vector
    cmp eax, [0x000FFFF0]
    jne .print
    mov eax, [0xFFFF0000]           ; first bytes of the image
    cmp eax, [0x000F0000]
    jne .print
    mov eax, [0xFFFF0000 + rom_byte]
    cmp eax, [LIN(rom_byte)]
    jne .print
    mov esi, LIN(msg_ok32)
.print:
    lodsb
    test al, al
    jz .printed
    mov ah, al
    mov dx, COM1_LSR
.wait:
    in al, dx
    test al, LSR_THRE
    jz .wait
    mov al, ah
    mov dx, COM1
    out dx, al
    jmp .print
.printed:

    lidt [LIN(idt0)]
fault:
    ud2
    ; Not reached. If it is, say so and power off (status 0 fails the test).
    mov dx, 0x604
    mov ax, 0x3400
    out dx, ax
.halt:
    hlt
    jmp .halt

bits 16
; okbad_ne: prints "ok" if ZF is clear, else "bad", and a line break.
okbad_ne:
    mov si, msg_ok
    jnz .print
    mov si, msg_bad
.print:
    call puts
    call crlf
    ret

LIB16

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF   ; 0x08: 32-bit code, base 0, 4 GiB, accessed
    dq 0x00CF93000000FFFF   ; 0x10: data, base 0, 4 GiB, accessed
gdtr:
    dw 3 * 8 - 1
    dd LIN(gdt)
idt0:
    dw 0                    ; limit 0: no vector can be delivered
    dd 0

msg:       db "triple: ud2 at ", 0
msg_ro:    db "rom: read-only ", 0
msg_ok:    db "ok", 0
msg_bad:   db "bad", 0
msg_ok32:  db "rom: at 4 GiB ok", 13, 10, 0
msg_bad32: db "rom: at 4 GiB bad", 13, 10, 0
rom_byte:  db 0x5A, 0xC3, 0x96, 0x3C

FIRMWARE_TAIL start
