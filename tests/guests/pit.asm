; SPDX-License-Identifier: GPL-3.0-or-later
;
; pit: proves that PIT interrupts reach the guest through KVM's in-kernel
; irqchip. Real mode: program both 8259s (IRQ0 -> vector 0x20), the 8254's
; channel 0 as a 100 Hz rate generator, point IVT entry 0x20 at a handler
; that counts ticks and sends EOI, disable the local APIC (IA32_APIC_BASE
; bit 11; PIC interrupts reach the CPU only then, or with LINT0 = ExtINT),
; then halt until TICKS ticks have arrived, print "ticks N" and power off.

bits 16
org 0
%include "lib.inc"

%define TICKS       5
%define TICK_COUNT  0x500           ; in low RAM (segment 0)
%define VECTOR      0x20
%define PIT_HZ      1193182
%define DIVISOR     ((PIT_HZ + 50) / 100)

start:
    REALMODE_SETUP
    SERIAL_INIT
    mov word [es:TICK_COUNT], 0

    ; IVT entry for IRQ0 (segment 0 = es).
    mov word [es:VECTOR * 4], tick
    mov word [es:VECTOR * 4 + 2], cs

    ; Local APIC off, so the 8259's INTR goes straight to the CPU. Done
    ; first, so that no PIC request can arrive while the APIC still masks it.
    mov ecx, 0x1B
    rdmsr
    and eax, ~(1 << 11)
    wrmsr

    ; Master 8259: ICW1 (edge, cascade, ICW4), ICW2 base 0x20, ICW3 slave on
    ; IRQ2, ICW4 8086 mode. Slave: base 0x28, cascade identity 2.
    mov al, 0x11
    out 0x20, al
    out 0xA0, al
    mov al, VECTOR
    out 0x21, al
    mov al, VECTOR + 8
    out 0xA1, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x02
    out 0xA1, al
    mov al, 0x01
    out 0x21, al
    out 0xA1, al
    mov al, 0xFE                    ; only IRQ0
    out 0x21, al
    mov al, 0xFF
    out 0xA1, al

    ; 8254 channel 0: lobyte/hibyte, mode 2 (rate generator), binary.
    mov al, 0x34
    out 0x43, al
    mov al, DIVISOR & 0xFF
    out 0x40, al
    mov al, DIVISOR >> 8
    out 0x40, al

    mov si, msg_wait
    call puts

.wait:
    sti
    hlt                             ; woken by the next tick
    cli
    cmp word [es:TICK_COUNT], TICKS
    jb .wait

    mov si, msg_ticks
    call puts
    mov ax, [es:TICK_COUNT]
    call putdec16
    call crlf
    POWEROFF

tick:
    push ax
    push ds
    xor ax, ax
    mov ds, ax
    inc word [TICK_COUNT]
    mov al, 0x20                    ; non-specific EOI
    out 0x20, al
    pop ds
    pop ax
    iret

LIB16

msg_wait:  db "pit: waiting for ticks", 13, 10, 0
msg_ticks: db "ticks ", 0

FIRMWARE_TAIL start
