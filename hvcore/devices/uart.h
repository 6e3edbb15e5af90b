/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A 16550A-compatible UART (8 registers, 16-byte FIFOs, interrupts). */
#pragma once

#include <stdint.h>
#include <stddef.h>

struct hv_uart;

struct hv_uart_callbacks {
    /* The interrupt line's level changed (level-triggered model of the ISA line). */
    void (*set_irq)(void *opaque, int level);
    /* Bytes the guest transmitted; called with the UART's lock held, must not block. */
    void (*tx)(void *opaque, const uint8_t *buf, size_t len);
    /* Bytes wait in a partial batch: call hv_uart_flush() soon. Called with the lock held,
       once per batch (optional). */
    void (*tx_pending)(void *opaque);
    void *opaque;
};

struct hv_uart *hv_uart_new(const struct hv_uart_callbacks *cb);
void hv_uart_free(struct hv_uart *uart);
/* Register access; `offset` is 0..7 from the base port. Thread-safe. */
uint8_t hv_uart_read(struct hv_uart *uart, unsigned offset);
void hv_uart_write(struct hv_uart *uart, unsigned offset, uint8_t val);
/* Host -> guest: queues up to the free RX FIFO space, returns how many bytes it took. */
size_t hv_uart_receive(struct hv_uart *uart, const uint8_t *buf, size_t len);
/* Free space in the RX FIFO (0 while the guest has not drained it). */
size_t hv_uart_rx_space(struct hv_uart *uart);
/* Hands whatever sits in the TX FIFO to the tx callback (after tx_pending, from a timer). */
void hv_uart_flush(struct hv_uart *uart);
