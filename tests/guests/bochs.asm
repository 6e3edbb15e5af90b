; SPDX-License-Identifier: GPL-3.0-or-later
;
; bochs: drives the bochs-display the way a driver would, in 32-bit protected
; mode with flat segments. It finds 1234:1111 by scanning PCI config space
; (0xCF8/0xCFC), reads BAR0 (VRAM) and BAR2 (MMIO), checks the DISPI ID,
; asks for an impossible mode (4000x2000: more than the 16 MiB of VRAM) and
; sees ENABLE stay off, then sets 128x96x32 and paints four 64x48 blocks:
;   red | green      (top half through BAR0 where the VMM placed it)
;   blue | white     (bottom half after moving BAR0 to 0xD0000000)
; Output: "bochs: id ok", "bochs: refused ok", "bochs: mode ok", "painted",
; or "bochs: ... bad" and a halt. The test then takes a screendump.
;
; Painting is 192 `rep stosd` of 64 pixels: ~12 k emulated stores, which
; keeps the guest fast where KVM emulates every instruction.

bits 16
org 0
%include "lib.inc"

%define LIN(x) (0xF0000 + (x))
%define DISPI(i) (0x500 + 2 * (i))
%define NEW_BAR0 0xD0000000
%define W 128
%define H 96

start:
    REALMODE_SETUP
    SERIAL_INIT
    lgdt [cs:gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:LIN(pm)

bits 32
; print: the NUL-terminated string at esi.
print:
    push eax
    push edx
.next:
    lodsb
    test al, al
    jz .done
    mov ah, al
    mov dx, COM1_LSR
.wait:
    in al, dx
    test al, LSR_THRE
    jz .wait
    mov al, ah
    mov dx, COM1
    out dx, al
    jmp .next
.done:
    pop edx
    pop eax
    ret

; fail: prints the message at esi and halts.
fail:
    call print
.halt:
    cli
    hlt
    jmp .halt

; pci_cfg: eax = dword at config offset cl of slot ebx.
pci_cfg:
    push edx
    mov eax, ebx
    shl eax, 11
    or eax, 0x80000000
    movzx edx, cl
    or eax, edx
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    pop edx
    ret

; paint_rows: ecx rows starting at edi, 64 pixels of eax then 64 of edx each.
paint_rows:
    push ecx
    mov ecx, W / 2
    rep stosd
    mov ecx, W / 2
    xchg eax, edx
    rep stosd
    xchg eax, edx
    pop ecx
    loop paint_rows
    ret

pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    cld

    ; Find 1234:1111 on bus 0.
    xor ebx, ebx
.scan:
    xor cl, cl
    call pci_cfg
    cmp eax, 0x11111234
    je .found
    inc ebx
    cmp ebx, 32
    jne .scan
    mov esi, LIN(msg_nodev)
    jmp fail
.found:
    mov cl, 0x10
    call pci_cfg
    and eax, 0xFFFFFFF0
    mov ebp, eax                    ; ebp: VRAM
    mov cl, 0x18
    call pci_cfg
    and eax, 0xFFFFFFF0
    mov esi, eax                    ; esi: MMIO (DISPI at +0x500)

    cmp word [esi + DISPI(0)], 0xB0C5
    push esi
    mov esi, LIN(msg_id_bad)
    jne fail
    mov esi, LIN(msg_id_ok)
    call print
    pop esi

    ; An impossible mode: ENABLE must stay off.
    mov word [esi + DISPI(4)], 0
    mov word [esi + DISPI(3)], 32
    mov word [esi + DISPI(1)], 4000
    mov word [esi + DISPI(2)], 2000
    mov word [esi + DISPI(4)], 0x41
    test word [esi + DISPI(4)], 1
    push esi
    mov esi, LIN(msg_refused_bad)
    jnz fail
    mov esi, LIN(msg_refused_ok)
    call print
    pop esi

    ; 128x96x32.
    mov word [esi + DISPI(1)], W
    mov word [esi + DISPI(2)], H
    mov word [esi + DISPI(4)], 0x41
    test word [esi + DISPI(4)], 1
    push esi
    mov esi, LIN(msg_mode_bad)
    jz fail
    mov esi, LIN(msg_mode_ok)
    call print
    pop esi

    ; Top half: red | green.
    mov edi, ebp
    mov eax, 0x00FF0000
    mov edx, 0x0000FF00
    mov ecx, H / 2
    call paint_rows

    ; Move BAR0 (slot in ebx) to NEW_BAR0, then paint the bottom half there.
    mov eax, ebx
    shl eax, 11
    or eax, 0x80000010
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    mov eax, NEW_BAR0
    out dx, eax
    mov edi, NEW_BAR0 + W * 4 * (H / 2)
    mov eax, 0x000000FF
    mov edx, 0x00FFFFFF
    mov ecx, H / 2
    call paint_rows

    mov esi, LIN(msg_painted)
    call print
.idle:
    cli
    hlt
    jmp .idle

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF   ; 0x08: 32-bit code, base 0, 4 GiB, accessed
    dq 0x00CF93000000FFFF   ; 0x10: data, base 0, 4 GiB, accessed
gdtr:
    dw 3 * 8 - 1
    dd LIN(gdt)

msg_nodev:       db "bochs: no 1234:1111 on bus 0 bad", 13, 10, 0
msg_id_ok:       db "bochs: id ok", 13, 10, 0
msg_id_bad:      db "bochs: id bad", 13, 10, 0
msg_refused_ok:  db "bochs: refused ok", 13, 10, 0
msg_refused_bad: db "bochs: refused bad", 13, 10, 0
msg_mode_ok:     db "bochs: mode ok", 13, 10, 0
msg_mode_bad:    db "bochs: mode bad", 13, 10, 0
msg_painted:     db "painted", 13, 10, 0

bits 16                     ; the reset vector's far jump is real-mode code
FIRMWARE_TAIL start
