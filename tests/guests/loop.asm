; SPDX-License-Identifier: GPL-3.0-or-later
;
; loop: runs forever. Prints "loop start", then one line "loop N" (N in
; decimal, counting from 1) every ITERATIONS iterations of a busy loop: a few
; lines per second on a host that emulates ~0.5 M loop iterations/s, many
; more on hardware-assisted KVM. Used to test pause/resume/quit over the
; control socket: while paused, the output must stop growing.

bits 16
org 0
%include "lib.inc"

%define ITERATIONS 0x20000

start:
    REALMODE_SETUP
    SERIAL_INIT
    mov si, msg_start
    call puts
    xor bx, bx
.line:
    mov ecx, ITERATIONS
.spin:
    dec ecx
    jnz .spin
    inc bx
    mov si, msg_loop
    call puts
    mov ax, bx
    call putdec16
    call crlf
    jmp .line

LIB16

msg_start: db "loop start", 13, 10, 0
msg_loop:  db "loop ", 0

FIRMWARE_TAIL start
