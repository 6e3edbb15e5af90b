; SPDX-License-Identifier: GPL-3.0-or-later
;
; triple: makes the vCPU triple-fault. It switches to 32-bit protected mode,
; loads an IDT with limit 0 and executes ud2: #UD cannot be delivered (#GP),
; neither can the #GP (#DF), nor the #DF: shutdown. The VMM must exit with
; status 1 and one stderr line naming the exit and the guest RIP; the guest
; prints that RIP first ("triple: ud2 at 000f....").
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

msg: db "triple: ud2 at ", 0

FIRMWARE_TAIL start
