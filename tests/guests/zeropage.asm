; SPDX-License-Identifier: GPL-3.0-or-later
;
; zeropage: a tiny Linux bzImage (boot protocol 2.15) for vmdesk-vmm --kernel.
; It reports what the loader handed it and powers off:
;
;   zeropage: 64-bit entry
;   boot_params B                 (16 hex digits each unless said otherwise)
;   regs cr0 C cr3 C cr4 C efer E
;   segs cs=XXXX ds=XXXX es=XXXX ss=XXXX
;   hdr ok|bad version XXXX loader XX   ("HdrS" copied into the zero page)
;   e820_entries NN                       (hex)
;   e820 ADDR SIZE TYPE                   (TYPE: 8 hex digits)  one per entry
;   cmdline_ptr P
;   cmdline [TEXT]                        (or "cmdline none")
;   initrd ADDR SIZE
;   initrd_sum XXXXXXXX first Q           (byte sum mod 2^32, first 8 bytes
;                                          as a little-endian u64; if SIZE != 0)
;   rsdp ADDR sig ok|bad csum ok|bad rev XX
;   xsdt ADDR sig ok|bad csum ok|bad      (if rev >= 2)
;   table SIG ADDR csum ok|bad            (one per XSDT entry)
;   dsdt ADDR sig ok|bad csum ok|bad s5 yes|no   (from the FADT)
;   probe ADDR XXXXXXXX                   (dword reads in the device hole)
;   done
;
; Anything at or above 4 GiB is not dereferenced: the 64-bit boot protocol
; promises an identity map of the first 4 GiB only (vmdesk's documented
; promise), and tables are only followed below that.
;
; Layout: boot sector (512 bytes, header at 0x1F1) + SETUP_SECTS sectors of
; setup (16-bit stub: this kernel has no 16-bit/32-bit boot path), then the
; protected-mode part at file offset (SETUP_SECTS + 1) * 512, loaded at
; 0x100000; its 64-bit entry point is at 0x100200.

%include "lib.inc"

%define SETUP_SECTS  1
%define KERNEL_OFFSET 0x400                 ; (SETUP_SECTS + 1) * 512
%if KERNEL_OFFSET != (SETUP_SECTS + 1) * 512
%error KERNEL_OFFSET does not match SETUP_SECTS
%endif
%define LOAD_ADDR    0x100000
%define INIT_SIZE    0x20000                ; code + bss + stack
%define STACK_TOP    (LOAD_ADDR + INIT_SIZE)

; Place the next item at exactly this offset of the boot sector/setup
; (assembly fails if the previous items overran it).
%macro AT 1
    times (%1) - ($ - $$) db 0
%endmacro

; ---------------------------------------------------------------------------
; Boot sector and setup (real mode, file offset = label value)
; ---------------------------------------------------------------------------
section setup start=0 vstart=0
bits 16

    AT 0x1F1
    db SETUP_SECTS                  ; 0x1F1 setup_sects
    dw 0                            ; 0x1F2 root_flags
    dd (kernel_end - kernel_start + 15) / 16 ; 0x1F4 syssize (16-byte units)
    dw 0                            ; 0x1F8 ram_size (obsolete)
    dw 0xFFFF                       ; 0x1FA vid_mode: normal
    dw 0                            ; 0x1FC root_dev
    dw 0xAA55                       ; 0x1FE boot_flag
    AT 0x200
    jmp short setup16               ; 0x200 jump
    db "HdrS"                       ; 0x202 header
    dw 0x020F                       ; 0x206 version 2.15
    dd 0                            ; 0x208 realmode_swtch
    dw 0x1000                       ; 0x20C start_sys_seg (obsolete)
    dw kernel_version - 0x200       ; 0x20E kernel_version
    db 0                            ; 0x210 type_of_loader (loader writes)
    db 0x01                         ; 0x211 loadflags: LOADED_HIGH
    dw 0                            ; 0x212 setup_move_size
    dd LOAD_ADDR                    ; 0x214 code32_start
    dd 0                            ; 0x218 ramdisk_image (loader writes)
    dd 0                            ; 0x21C ramdisk_size (loader writes)
    dd 0                            ; 0x220 bootsect_kludge
    dw 0                            ; 0x224 heap_end_ptr
    db 0                            ; 0x226 ext_loader_ver
    db 0                            ; 0x227 ext_loader_type
    dd 0                            ; 0x228 cmd_line_ptr (loader writes)
    AT 0x22C
    dd 0x37FFFFFF                   ; 0x22C initrd_addr_max (as Linux)
    dd 0x200000                     ; 0x230 kernel_alignment
    db 0                            ; 0x234 relocatable_kernel
    db 0                            ; 0x235 min_alignment
    AT 0x236
    dw 0x0001                       ; 0x236 xloadflags: XLF_KERNEL_64
    AT 0x238
    dd 2047                         ; 0x238 cmdline_size
    dd 0                            ; 0x23C hardware_subarch
    dq 0                            ; 0x240 hardware_subarch_data
    dd 0                            ; 0x248 payload_offset
    dd 0                            ; 0x24C payload_length
    dq 0                            ; 0x250 setup_data
    AT 0x258
    dq LOAD_ADDR                    ; 0x258 pref_address
    AT 0x260
    dd INIT_SIZE                    ; 0x260 init_size
    dd 0                            ; 0x264 handover_offset
    dd 0                            ; 0x268 kernel_info_offset
    AT 0x26C

; 16-bit entry (what a BIOS boot loader, or QEMU -kernel, would use). CS is
; the setup segment + 0x20; make DS the setup segment, say why we stop.
setup16:
    cli
    cld
    mov ax, cs
    sub ax, 0x20
    mov ds, ax
    mov si, msg16
    call puts
.halt:
    hlt
    jmp .halt

LIB16

msg16:          db "zeropage: the 16-bit entry is not supported; "
                db "boot through the 64-bit entry", 13, 10, 0
kernel_version: db "vmdesk zeropage test kernel", 0

    AT KERNEL_OFFSET

; ---------------------------------------------------------------------------
; Protected-mode part: loaded at LOAD_ADDR
; ---------------------------------------------------------------------------
section kernel start=KERNEL_OFFSET vstart=LOAD_ADDR
kernel_start:

; 32-bit entry at LOAD_ADDR: not supported, stop.
bits 32
    cli
.halt32:
    hlt
    jmp .halt32

bits 64
default rel
    times 0x200 - ($ - kernel_start) db 0
entry64:
    cli
    cld
    mov rbx, rsi                    ; rbx = boot_params for the whole run
    mov rsp, STACK_TOP
    SERIAL_INIT

    lea rsi, [s_hello]
    call puts64

    ; boot_params B
    lea rsi, [s_bp]
    call puts64
    mov rax, rbx
    call hex16
    call crlf64

    ; regs cr0 C cr3 C cr4 C efer E
    lea rsi, [s_cr0]
    call puts64
    mov rax, cr0
    call hex16
    lea rsi, [s_cr3]
    call puts64
    mov rax, cr3
    call hex16
    lea rsi, [s_cr4]
    call puts64
    mov rax, cr4
    call hex16
    lea rsi, [s_efer]
    call puts64
    mov ecx, 0xC0000080
    rdmsr
    shl rdx, 32
    or rax, rdx
    call hex16
    call crlf64

    ; segs cs=.. ds=.. es=.. ss=..
    lea rsi, [s_cs]
    call puts64
    mov ax, cs
    call hex4
    lea rsi, [s_ds]
    call puts64
    mov ax, ds
    call hex4
    lea rsi, [s_es]
    call puts64
    mov ax, es
    call hex4
    lea rsi, [s_ss]
    call puts64
    mov ax, ss
    call hex4
    call crlf64

    ; hdr ok|bad version XXXX loader XX
    lea rsi, [s_hdr]
    call puts64
    cmp dword [rbx + 0x202], 0x53726448 ; "HdrS"
    call okbad_z
    lea rsi, [s_version]
    call puts64
    movzx eax, word [rbx + 0x206]
    call hex4
    lea rsi, [s_loader]
    call puts64
    movzx eax, byte [rbx + 0x210]
    mov ecx, 2
    call puthex64
    call crlf64

    call report_e820
    call report_cmdline
    call report_initrd
    call report_acpi

    ; Reads in the device hole: the local APIC's version register and an
    ; address no device covers (must read as all ones).
    mov eax, 0xFEE00030
    call probe
    mov eax, 0xFEB00000
    call probe

    lea rsi, [s_done]
    call puts64
    POWEROFF

; ---------------------------------------------------------------------------
; e820_entries NN, then "e820 ADDR SIZE TYPE" per entry
report_e820:
    lea rsi, [s_e820n]
    call puts64
    movzx eax, byte [rbx + 0x1E8]
    mov ecx, 2
    call puthex64
    call crlf64
    movzx r12d, byte [rbx + 0x1E8]
    cmp r12d, 128                   ; E820_MAX_ENTRIES_ZEROPAGE
    jbe .count_ok
    mov r12d, 128
.count_ok:
    lea r13, [rbx + 0x2D0]
    test r12d, r12d
    jz .done
.entry:
    lea rsi, [s_e820]
    call puts64
    mov rax, [r13]
    call hex16
    call space64
    mov rax, [r13 + 8]
    call hex16
    call space64
    mov eax, [r13 + 16]
    mov ecx, 8
    call puthex64
    call crlf64
    add r13, 20
    dec r12d
    jnz .entry
.done:
    ret

; cmdline_ptr P, cmdline [TEXT] or cmdline none
report_cmdline:
    lea rsi, [s_cmdptr]
    call puts64
    mov eax, [rbx + 0x228]          ; hdr.cmd_line_ptr
    mov edx, [rbx + 0x0C8]          ; ext_cmd_line_ptr
    shl rdx, 32
    or rax, rdx
    mov r12, rax
    call hex16
    call crlf64
    lea rsi, [s_cmdline]
    call puts64
    test r12, r12
    jz .none
    mov rax, r12
    shr rax, 32
    jnz .none                       ; not below 4 GiB: do not touch
    mov al, '['
    call putc64
    mov rsi, r12
    mov ecx, 2048
    call putsn64
    mov al, ']'
    call putc64
    call crlf64
    ret
.none:
    lea rsi, [s_none]
    call puts64
    ret

; initrd ADDR SIZE, then initrd_sum XXXXXXXX first Q
report_initrd:
    lea rsi, [s_initrd]
    call puts64
    mov eax, [rbx + 0x218]          ; hdr.ramdisk_image
    mov edx, [rbx + 0x0C0]          ; ext_ramdisk_image
    shl rdx, 32
    or rax, rdx
    mov r12, rax
    call hex16
    call space64
    mov eax, [rbx + 0x21C]          ; hdr.ramdisk_size
    mov edx, [rbx + 0x0C4]          ; ext_ramdisk_size
    shl rdx, 32
    or rax, rdx
    mov r13, rax
    call hex16
    call crlf64
    test r13, r13
    jz .done
    mov rax, r12
    add rax, r13
    shr rax, 32
    jnz .done                       ; reaches past 4 GiB: do not touch
    lea rsi, [s_isum]
    call puts64
    mov rsi, r12
    mov rcx, r13
    xor edx, edx
.sum:
    movzx eax, byte [rsi]
    add edx, eax
    inc rsi
    dec rcx
    jnz .sum
    mov eax, edx
    mov ecx, 8
    call puthex64
    lea rsi, [s_first]
    call puts64
    mov rax, [r12]
    call hex16
    call crlf64
.done:
    ret

; rsdp / xsdt / table / dsdt lines
report_acpi:
    xor ebp, ebp                    ; the FADT, once found
    lea rsi, [s_rsdp]
    call puts64
    mov r12, [rbx + 0x070]          ; acpi_rsdp_addr
    mov rax, r12
    call hex16
    mov rax, r12
    shr rax, 32
    jnz .nl
    test r12, r12
    jz .nl
    ; signature
    lea rsi, [s_sig]
    call puts64
    mov rax, "RSD PTR "
    cmp [r12], rax
    call okbad_z
    jne .nl
    ; ACPI 1.0 checksum: first 20 bytes
    lea rsi, [s_csum]
    call puts64
    mov rsi, r12
    mov ecx, 20
    call checksum
    call okbad_z
    lea rsi, [s_rev]
    call puts64
    movzx eax, byte [r12 + 15]
    mov ecx, 2
    call puthex64
    call crlf64
    cmp byte [r12 + 15], 2
    jb .done
    ; XSDT
    lea rsi, [s_xsdt]
    call puts64
    mov r13, [r12 + 24]
    mov rax, r13
    call hex16
    mov rdi, r13
    mov eax, "XSDT"
    call check_table
    jne .nl
    call crlf64
    ; entries: (length - 36) / 8
    mov r14d, [r13 + 4]
    sub r14d, 36
    shr r14d, 3
    lea r15, [r13 + 36]
    test r14d, r14d
    jz .done
.table:
    lea rsi, [s_table]
    call puts64
    mov rdi, [r15]
    mov rax, rdi
    shr rax, 32
    jnz .next_nl
    mov eax, [rdi]
    call put_sig
    call space64
    mov rax, rdi
    call hex16
    lea rsi, [s_csum]
    call puts64
    mov rsi, rdi
    mov ecx, [rdi + 4]
    call checksum
    call okbad_z
    call crlf64
    cmp dword [rdi], "FACP"
    jne .next
    mov rbp, rdi                    ; remember the FADT
.next:
    add r15, 8
    dec r14d
    jnz .table
    jmp .dsdt
.next_nl:
    call crlf64
    jmp .next
.dsdt:
    test rbp, rbp
    jz .done
    ; X_DSDT (offset 140) if the FADT has it and it is set, else DSDT (40)
    xor eax, eax
    cmp dword [rbp + 4], 148
    jb .dsdt32
    mov rax, [rbp + 140]
.dsdt32:
    test rax, rax
    jnz .have_dsdt
    mov eax, [rbp + 40]
.have_dsdt:
    mov r13, rax
    lea rsi, [s_dsdt]
    call puts64
    mov rax, r13
    call hex16
    mov rax, r13
    shr rax, 32
    jnz .nl
    mov rdi, r13
    mov eax, "DSDT"
    call check_table
    jne .nl
    ; look for the name "_S5_" in the AML
    lea rsi, [s_s5]
    call puts64
    mov ecx, [r13 + 4]
    sub ecx, 36 + 3
    jbe .no_s5
    lea rsi, [r13 + 36]
.scan:
    cmp dword [rsi], "_S5_"
    je .yes_s5
    inc rsi
    dec ecx
    jnz .scan
.no_s5:
    lea rsi, [s_no]
    call puts64
    jmp .nl
.yes_s5:
    lea rsi, [s_yes]
    call puts64
.nl:
    call crlf64
.done:
    ret

; check_table: rdi = table, eax = expected signature. Prints
; " sig ok|bad" and, if the signature matched, " csum ok|bad".
; Returns ZF set if both were ok.
check_table:
    push rsi
    push rcx
    lea rsi, [s_sig]
    call puts64
    cmp [rdi], eax
    call okbad_z
    jne .out
    lea rsi, [s_csum]
    call puts64
    mov rsi, rdi
    mov ecx, [rdi + 4]
    call checksum
    call okbad_z
.out:
    pop rcx
    pop rsi
    ret

; checksum: al = sum of ecx bytes at rsi (at most 64 KiB are summed);
; ZF set if the sum is zero. Clobbers rsi, rcx, rax.
checksum:
    xor eax, eax
    cmp ecx, 0x10000
    jbe .go
    mov ecx, 0x10000
.go:
    test ecx, ecx
    jz .out
.byte:
    add al, [rsi]
    inc rsi
    dec ecx
    jnz .byte
.out:
    test al, al
    ret

; okbad_z: prints "ok" if ZF is set, else "bad"; preserves the flags.
okbad_z:
    pushfq
    push rsi
    lea rsi, [s_ok]
    jz .print
    lea rsi, [s_bad]
.print:
    call puts64
    pop rsi
    popfq
    ret

; put_sig: the 4 characters of eax.
put_sig:
    push rax
    push rcx
    mov ecx, 4
.c:
    call putc64
    shr eax, 8
    dec ecx
    jnz .c
    pop rcx
    pop rax
    ret

; probe: "probe ADDR VALUE" for the dword at eax (below 4 GiB).
probe:
    push rax
    lea rsi, [s_probe]
    call puts64
    pop rax
    mov edi, eax
    mov ecx, 8
    call puthex64
    call space64
    mov eax, [rdi]
    call puthex64
    call crlf64
    ret

hex16:
    push rcx
    mov ecx, 16
    call puthex64
    pop rcx
    ret

hex4:
    push rcx
    mov ecx, 4
    call puthex64
    pop rcx
    ret

LIB64

s_hello:   db "zeropage: 64-bit entry", 13, 10, 0
s_bp:      db "boot_params ", 0
s_cr0:     db "regs cr0 ", 0
s_cr3:     db " cr3 ", 0
s_cr4:     db " cr4 ", 0
s_efer:    db " efer ", 0
s_cs:      db "segs cs=", 0
s_ds:      db " ds=", 0
s_es:      db " es=", 0
s_ss:      db " ss=", 0
s_hdr:     db "hdr ", 0
s_version: db " version ", 0
s_loader:  db " loader ", 0
s_e820n:   db "e820_entries ", 0
s_e820:    db "e820 ", 0
s_cmdptr:  db "cmdline_ptr ", 0
s_cmdline: db "cmdline ", 0
s_none:    db "none", 13, 10, 0
s_initrd:  db "initrd ", 0
s_isum:    db "initrd_sum ", 0
s_first:   db " first ", 0
s_rsdp:    db "rsdp ", 0
s_xsdt:    db "xsdt ", 0
s_table:   db "table ", 0
s_dsdt:    db "dsdt ", 0
s_sig:     db " sig ", 0
s_csum:    db " csum ", 0
s_rev:     db " rev ", 0
s_s5:      db " s5 ", 0
s_yes:     db "yes", 0
s_no:      db "no", 0
s_ok:      db "ok", 0
s_bad:     db "bad", 0
s_probe:   db "probe ", 0
s_done:    db "done", 13, 10, 0

    align 16
kernel_end:
