; SPDX-License-Identifier: GPL-3.0-or-later
;
; reset: exercises both reset paths. A boot counter lives in RAM at 0x500
; (guest RAM survives a VMM reset; it starts out zero):
;   boot 1: print "boot 1", reset through the i8042 (0xFE to port 0x64)
;   boot 2: print "boot 2", reset through the reset control register
;           (0x06 to port 0xCF9)
;   boot 3: print "boot 3", power off (ACPI S5)
; With --no-reboot the VMM exits with status 0 right after "boot 1".

bits 16
org 0
%include "lib.inc"

%define BOOT_COUNT 0x500

start:
    REALMODE_SETUP
    SERIAL_INIT
    inc word [es:BOOT_COUNT]
    mov si, msg_boot
    call puts
    mov ax, [es:BOOT_COUNT]
    call putdec16
    call crlf
    cmp ax, 1
    je .kbc_reset
    cmp ax, 2
    je .cf9_reset
    POWEROFF

.kbc_reset:
    mov al, 0xFE
    out 0x64, al
    jmp .failed

.cf9_reset:
    mov dx, 0xCF9
    mov al, 0x06
    out dx, al

.failed:
    ; Still running: the reset did not happen.
    mov si, msg_failed
    call puts
    POWEROFF

LIB16

msg_boot:   db "boot ", 0
msg_failed: db "reset failed", 13, 10, 0

FIRMWARE_TAIL start
