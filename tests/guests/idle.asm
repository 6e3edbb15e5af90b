; SPDX-License-Identifier: GPL-3.0-or-later
;
; idle: a 64 KiB firmware image that prints one line on COM1 and then halts with
; interrupts off, like an idle desktop guest: its vCPU sleeps in KVM and costs
; the host no CPU. Used where many VMs run at once (tests/bench/list).

bits 16
org 0
%include "lib.inc"

start:
    REALMODE_SETUP
    SERIAL_INIT
    mov si, msg
    call puts
.halt:
    cli
    hlt
    jmp .halt

LIB16

msg: db "vmdesk guest: idle", 13, 10, 0

FIRMWARE_TAIL start
