; SPDX-License-Identifier: GPL-3.0-or-later
;
; hello: a 64 KiB firmware image that prints one line on COM1 and powers the
; machine off through ACPI S5 (the VMM then exits with status 0).

bits 16
org 0
%include "lib.inc"

start:
    REALMODE_SETUP
    SERIAL_INIT
    mov si, msg
    call puts
    POWEROFF

LIB16

msg: db "vmdesk guest: hello", 13, 10, 0

FIRMWARE_TAIL start
