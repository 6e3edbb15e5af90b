/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A 16550A-compatible UART (8 registers, 16-byte FIFOs, interrupts). */
#include "devices/uart.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define UART_FIFO_SIZE 16

/* Register offsets; the DLAB bit of LCR turns 0 and 1 into the divisor latch. */
#define REG_RBR_THR 0
#define REG_IER 1
#define REG_IIR_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f

#define IIR_NONE 0x01
#define IIR_MSR 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/*
 * Outside loopback the far end is a console that is always there, so carrier, DSR and
 * CTS are asserted: a getty waiting for carrier or a guest using hardware flow control
 * never waits for a line that no one will raise.
 */
#define MSR_LINES_ATTACHED (MSR_DCD | MSR_DSR | MSR_CTS)

struct hv_uart {
    pthread_mutex_t lock;
    struct hv_uart_callbacks cb;

    uint8_t ier;
    uint8_t lcr;
    uint8_t mcr;
    uint8_t scr;
    uint8_t dll;
    uint8_t dlm;
    uint8_t lsr_errors; /* OE; cleared by reading LSR */
    uint8_t msr_deltas; /* low nibble of MSR; cleared by reading MSR */
    bool fifo_on;
    unsigned rx_trigger;

    uint8_t rx[UART_FIFO_SIZE];
    unsigned rx_head;
    unsigned rx_count;

    /* Bytes the guest has sent that have not been handed to cb->tx yet. */
    uint8_t tx[UART_FIFO_SIZE];
    unsigned tx_count;

    bool thre_pending;
    int irq_level;
};

static const unsigned rx_trigger_levels[4] = {1, 4, 8, 14};

static unsigned rx_capacity(const struct hv_uart *uart)
{
    return uart->fifo_on ? UART_FIFO_SIZE : 1;
}

static uint8_t modem_lines(const struct hv_uart *uart)
{
    if (!(uart->mcr & MCR_LOOP))
        return MSR_LINES_ATTACHED;
    uint8_t lines = 0;
    if (uart->mcr & MCR_RTS)
        lines |= MSR_CTS;
    if (uart->mcr & MCR_DTR)
        lines |= MSR_DSR;
    if (uart->mcr & MCR_OUT1)
        lines |= MSR_RI;
    if (uart->mcr & MCR_OUT2)
        lines |= MSR_DCD;
    return lines;
}

/* The highest-priority pending interrupt, as IIR's low nibble. */
static uint8_t pending_iir(const struct hv_uart *uart)
{
    if ((uart->ier & IER_ELSI) && uart->lsr_errors)
        return IIR_RLS;
    if ((uart->ier & IER_ERBFI) && uart->rx_count) {
        /*
         * Real hardware reports a timeout only after four idle character times; a
         * guest cannot tell the difference, and reporting it at once means data below
         * the trigger level is never left waiting.
         */
        if (uart->fifo_on && uart->rx_count < uart->rx_trigger)
            return IIR_TIMEOUT;
        return IIR_RDA;
    }
    if ((uart->ier & IER_ETBEI) && uart->thre_pending)
        return IIR_THRE;
    if ((uart->ier & IER_EDSSI) && uart->msr_deltas)
        return IIR_MSR;
    return IIR_NONE;
}

/*
 * On a PC the UART's interrupt output reaches the ISA line through a buffer enabled by
 * OUT2, and loopback forces OUT2 inactive; Linux sets OUT2 when it wants interrupts,
 * polled guests never do.
 */
static void update_irq(struct hv_uart *uart)
{
    int level = pending_iir(uart) != IIR_NONE && (uart->mcr & MCR_OUT2) && !(uart->mcr & MCR_LOOP);
    if (level == uart->irq_level)
        return;
    uart->irq_level = level;
    if (uart->cb.set_irq)
        uart->cb.set_irq(uart->cb.opaque, level);
}

static void tx_handoff(struct hv_uart *uart)
{
    if (!uart->tx_count)
        return;
    if (uart->cb.tx)
        uart->cb.tx(uart->cb.opaque, uart->tx, uart->tx_count);
    uart->tx_count = 0;
}

/*
 * The transmitter is infinitely fast as far as the guest can see: a byte written to THR
 * leaves at once, so THRE and TEMT always read 1. What the guest sent is only batched on
 * the host side, so that a guest polling LSR before every character (Linux's console
 * before the tty is opened, boot loaders) costs one cb->tx per line rather than one per
 * character. The batch goes out when it holds 16 bytes, after a '\n' (whole lines appear
 * promptly), and on hv_uart_flush(), which the VMM calls from a timer that tx_pending arms
 * for partial lines such as a prompt (an idle VM has no timer waking it). Nothing the guest can do stalls on the batch, and order is kept.
 */
static void tx_push(struct hv_uart *uart, uint8_t byte)
{
    uart->tx[uart->tx_count++] = byte;
    if (uart->tx_count == UART_FIFO_SIZE || byte == '\n')
        tx_handoff(uart);
    else if (uart->tx_count == 1 && uart->cb.tx_pending)
        uart->cb.tx_pending(uart->cb.opaque);
}

static void rx_clear(struct hv_uart *uart)
{
    uart->rx_head = 0;
    uart->rx_count = 0;
}

static void rx_push(struct hv_uart *uart, uint8_t byte)
{
    uart->rx[(uart->rx_head + uart->rx_count) % UART_FIFO_SIZE] = byte;
    uart->rx_count++;
}

/* Loopback: what the guest transmits arrives at its own receiver, overruns included. */
static void rx_loop(struct hv_uart *uart, uint8_t byte)
{
    if (uart->rx_count < rx_capacity(uart)) {
        rx_push(uart, byte);
        return;
    }
    uart->lsr_errors |= LSR_OE;
    /* In FIFO mode the new character is lost; a 16450 overwrites its holding register. */
    if (!uart->fifo_on)
        uart->rx[uart->rx_head] = byte;
}

static uint8_t rx_pop(struct hv_uart *uart)
{
    if (!uart->rx_count)
        return 0;
    uint8_t byte = uart->rx[uart->rx_head];
    uart->rx_head = (uart->rx_head + 1) % UART_FIFO_SIZE;
    uart->rx_count--;
    return byte;
}

static void write_fcr(struct hv_uart *uart, uint8_t val)
{
    bool enable = val & FCR_ENABLE;
    /* Switching the FIFOs on or off empties them, as on the 16550A. */
    if (enable != uart->fifo_on)
        rx_clear(uart);
    uart->fifo_on = enable;
    if (!enable)
        return;
    if (val & FCR_CLEAR_RX)
        rx_clear(uart);
    /*
     * Clearing the TX FIFO has nothing to discard: the guest-visible transmitter is
     * always empty, and what sits in the host-side batch has already been "sent".
     */
    uart->rx_trigger = rx_trigger_levels[val >> 6];
}

static void write_ier(struct hv_uart *uart, uint8_t val)
{
    uint8_t old = uart->ier;
    uart->ier = val & IER_MASK;
    /*
     * Enabling ETBEI with THR empty raises THRE at once: Linux's start_tx relies on it,
     * and its start-up test that toggles ETBEI checks that THRE is re-asserted.
     */
    if ((uart->ier & IER_ETBEI) && !(old & IER_ETBEI))
        uart->thre_pending = true;
    if (!(uart->ier & IER_ETBEI))
        uart->thre_pending = false;
}

static void write_mcr(struct hv_uart *uart, uint8_t val)
{
    uint8_t before = modem_lines(uart);
    uart->mcr = val & MCR_MASK;
    uint8_t after = modem_lines(uart);
    uint8_t changed = before ^ after;
    if (changed & MSR_CTS)
        uart->msr_deltas |= MSR_DCTS;
    if (changed & MSR_DSR)
        uart->msr_deltas |= MSR_DDSR;
    if ((before & MSR_RI) && !(after & MSR_RI))
        uart->msr_deltas |= MSR_TERI;
    if (changed & MSR_DCD)
        uart->msr_deltas |= MSR_DDCD;
}

struct hv_uart *hv_uart_new(const struct hv_uart_callbacks *cb)
{
    struct hv_uart *uart = calloc(1, sizeof(*uart));
    if (!uart)
        return NULL;
    if (pthread_mutex_init(&uart->lock, NULL)) {
        free(uart);
        return NULL;
    }
    if (cb)
        uart->cb = *cb;
    /* Divisor 1 (115200 baud): Linux's console takes its speed from the latch if not told. */
    uart->dll = 1;
    uart->rx_trigger = 1;
    return uart;
}

void hv_uart_free(struct hv_uart *uart)
{
    if (!uart)
        return;
    pthread_mutex_destroy(&uart->lock);
    free(uart);
}

uint8_t hv_uart_read(struct hv_uart *uart, unsigned offset)
{
    uint8_t val = 0xff;
    bool dlab;

    pthread_mutex_lock(&uart->lock);
    dlab = uart->lcr & LCR_DLAB;
    switch (offset) {
    case REG_RBR_THR:
        val = dlab ? uart->dll : rx_pop(uart);
        break;
    case REG_IER:
        val = dlab ? uart->dlm : uart->ier;
        break;
    case REG_IIR_FCR:
        val = pending_iir(uart);
        /* Reading IIR acknowledges THRE, and only when THRE is what it reports. */
        if (val == IIR_THRE)
            uart->thre_pending = false;
        if (uart->fifo_on)
            val |= IIR_FIFO_ON;
        break;
    case REG_LCR:
        val = uart->lcr;
        break;
    case REG_MCR:
        val = uart->mcr;
        break;
    case REG_LSR:
        val = LSR_THRE | LSR_TEMT | uart->lsr_errors;
        if (uart->rx_count)
            val |= LSR_DR;
        uart->lsr_errors = 0;
        break;
    case REG_MSR:
        val = modem_lines(uart) | uart->msr_deltas;
        uart->msr_deltas = 0;
        break;
    case REG_SCR:
        val = uart->scr;
        break;
    }
    update_irq(uart);
    pthread_mutex_unlock(&uart->lock);
    return val;
}

void hv_uart_write(struct hv_uart *uart, unsigned offset, uint8_t val)
{
    bool dlab;

    pthread_mutex_lock(&uart->lock);
    dlab = uart->lcr & LCR_DLAB;
    switch (offset) {
    case REG_RBR_THR:
        if (dlab) {
            uart->dll = val;
            break;
        }
        if (uart->mcr & MCR_LOOP)
            rx_loop(uart, val);
        else
            tx_push(uart, val);
        /* THR was written and, the transmitter being instant, is empty again. */
        if (uart->ier & IER_ETBEI)
            uart->thre_pending = true;
        break;
    case REG_IER:
        if (dlab)
            uart->dlm = val;
        else
            write_ier(uart, val);
        break;
    case REG_IIR_FCR:
        write_fcr(uart, val);
        break;
    case REG_LCR:
        uart->lcr = val;
        break;
    case REG_MCR:
        write_mcr(uart, val);
        break;
    case REG_SCR:
        uart->scr = val;
        break;
    default:
        /* LSR and MSR writes are a factory test mode on real parts; ignore them. */
        break;
    }
    update_irq(uart);
    pthread_mutex_unlock(&uart->lock);
}

size_t hv_uart_receive(struct hv_uart *uart, const uint8_t *buf, size_t len)
{
    size_t taken = 0;

    pthread_mutex_lock(&uart->lock);
    /* In loopback the receiver is cut off from the line; the host keeps its bytes. */
    if (!(uart->mcr & MCR_LOOP)) {
        while (taken < len && uart->rx_count < rx_capacity(uart))
            rx_push(uart, buf[taken++]);
        update_irq(uart);
    }
    pthread_mutex_unlock(&uart->lock);
    return taken;
}

size_t hv_uart_rx_space(struct hv_uart *uart)
{
    size_t space = 0;

    pthread_mutex_lock(&uart->lock);
    if (!(uart->mcr & MCR_LOOP))
        space = rx_capacity(uart) - uart->rx_count;
    pthread_mutex_unlock(&uart->lock);
    return space;
}

void hv_uart_flush(struct hv_uart *uart)
{
    pthread_mutex_lock(&uart->lock);
    tx_handoff(uart);
    pthread_mutex_unlock(&uart->lock);
}
