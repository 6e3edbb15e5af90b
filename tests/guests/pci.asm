; SPDX-License-Identifier: GPL-3.0-or-later
;
; pci: a 64 KiB firmware image that enumerates bus 0 through configuration
; mechanism #1 (0xCF8/0xCFC), prints "pci SS VVVV:DDDD CCCCCC" for each
; function 0 it finds (slot, vendor:device, class code), then "pci done" and
; powers off.

bits 16
org 0
%include "lib.inc"

start:
    REALMODE_SETUP
    SERIAL_INIT
    xor cx, cx                  ; slot
.slot:
    mov eax, ecx
    shl eax, 11
    or eax, 0x80000000          ; enable, bus 0, function 0, register 0
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    cmp ax, 0xffff              ; no device
    je .next
    mov ebx, eax                ; vendor (low) : device (high)
    mov si, msg_pci
    call puts
    mov al, cl
    call puthex8
    mov al, ' '
    call putc
    mov ax, bx
    call puthex16
    mov al, ':'
    call putc
    mov eax, ebx
    shr eax, 16
    call puthex16
    mov al, ' '
    call putc
    mov eax, ecx                ; register 8: revision and class code
    shl eax, 11
    or eax, 0x80000008
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    shr eax, 8
    push eax
    shr eax, 16
    call puthex8
    pop eax
    call puthex16
    call crlf
.next:
    inc cx
    cmp cx, 32
    jb .slot
    mov si, msg_done
    call puts
    POWEROFF

LIB16

msg_pci: db "pci ", 0
msg_done: db "pci done", 13, 10, 0

FIRMWARE_TAIL start
