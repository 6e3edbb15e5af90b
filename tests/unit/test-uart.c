/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests for the 16550A UART model: registers, FIFOs, interrupts, output batching. */
#include "devices/uart.h"

#include <glib.h>
#include <pthread.h>
#include <string.h>

#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

/* Records every callback so tests can check what the VMM would see. */
struct fake {
    GByteArray *out;  /* all tx bytes, in order */
    GPtrArray *calls; /* one GByteArray per tx call */
    int levels[64];
    unsigned n_levels;
    unsigned pending; /* tx_pending calls */
};

static void fake_tx_pending(void *opaque)
{
    struct fake *f = opaque;
    f->pending++;
}

static void fake_set_irq(void *opaque, int level)
{
    struct fake *f = opaque;
    g_assert_cmpuint(f->n_levels, <, G_N_ELEMENTS(f->levels));
    f->levels[f->n_levels++] = level;
}

static void fake_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct fake *f = opaque;
    g_assert_cmpuint(len, >, 0);
    g_byte_array_append(f->out, buf, len);
    GByteArray *call = g_byte_array_new();
    g_byte_array_append(call, buf, len);
    g_ptr_array_add(f->calls, call);
}

static struct hv_uart *fake_uart(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->out = g_byte_array_new();
    f->calls = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    struct hv_uart_callbacks cb = {.set_irq = fake_set_irq, .tx = fake_tx,
                                   .tx_pending = fake_tx_pending, .opaque = f};
    struct hv_uart *uart = hv_uart_new(&cb);
    g_assert_nonnull(uart);
    return uart;
}

static void fake_done(struct fake *f, struct hv_uart *uart)
{
    hv_uart_free(uart);
    g_byte_array_unref(f->out);
    g_ptr_array_unref(f->calls);
}

static void write_str(struct hv_uart *uart, const char *s)
{
    for (; *s; s++)
        hv_uart_write(uart, THR, (uint8_t)*s);
}

static void test_reset_state(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    g_assert_cmphex(hv_uart_read(uart, IER), ==, 0);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0x01);
    g_assert_cmphex(hv_uart_read(uart, LCR), ==, 0);
    g_assert_cmphex(hv_uart_read(uart, MCR), ==, 0);
    g_assert_cmphex(hv_uart_read(uart, LSR), ==, 0x60);
    /* The console at the far end asserts DCD, DSR and CTS. */
    g_assert_cmphex(hv_uart_read(uart, MSR), ==, 0xb0);
    g_assert_cmphex(hv_uart_read(uart, 8), ==, 0xff);
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 1);
    g_assert_cmpuint(f.n_levels, ==, 0);
    fake_done(&f, uart);
}

static void test_divisor_latch(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    hv_uart_write(uart, LCR, 0x83);
    /* Reset divisor is 1: 115200 baud for a guest that probes the speed. */
    g_assert_cmphex(hv_uart_read(uart, DLL), ==, 0x01);
    g_assert_cmphex(hv_uart_read(uart, DLM), ==, 0x00);
    hv_uart_write(uart, DLL, 0x34);
    hv_uart_write(uart, DLM, 0x12);
    g_assert_cmphex(hv_uart_read(uart, DLL), ==, 0x34);
    g_assert_cmphex(hv_uart_read(uart, DLM), ==, 0x12);
    /* Divisor writes are not data and do not touch IER. */
    g_assert_cmpuint(f.out->len, ==, 0);
    hv_uart_write(uart, LCR, 0x03);
    g_assert_cmphex(hv_uart_read(uart, IER), ==, 0);
    hv_uart_write(uart, IER, 0x01);
    hv_uart_write(uart, THR, 'z');
    hv_uart_flush(uart);
    g_assert_cmpuint(f.out->len, ==, 1);
    hv_uart_write(uart, LCR, 0x83);
    g_assert_cmphex(hv_uart_read(uart, DLL), ==, 0x34);
    g_assert_cmphex(hv_uart_read(uart, DLM), ==, 0x12);
    /* IIR stays readable at offset 2 with DLAB set (Linux's EFR probe depends on it). */
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0x01);
    fake_done(&f, uart);
}

static void test_scratch_lcr_masks(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    for (unsigned v = 0; v < 256; v++) {
        hv_uart_write(uart, SCR, (uint8_t)v);
        g_assert_cmphex(hv_uart_read(uart, SCR), ==, v);
    }
    hv_uart_write(uart, LCR, 0x1b);
    g_assert_cmphex(hv_uart_read(uart, LCR), ==, 0x1b);
    hv_uart_write(uart, LCR, 0x03);
    /* Unimplemented IER bits (UUE and friends) read as 0. */
    hv_uart_write(uart, IER, 0xff);
    g_assert_cmphex(hv_uart_read(uart, IER), ==, 0x0f);
    hv_uart_write(uart, IER, 0x40);
    g_assert_cmphex(hv_uart_read(uart, IER), ==, 0x00);
    hv_uart_write(uart, MCR, 0xff);
    g_assert_cmphex(hv_uart_read(uart, MCR), ==, 0x1f);
    fake_done(&f, uart);
}

static void test_rx_fifo(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);
    uint8_t in[20];

    for (unsigned i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)('a' + i);
    hv_uart_write(uart, FCR, 0x07);
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 16);
    g_assert_cmpuint(hv_uart_receive(uart, in, 5), ==, 5);
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 11);
    g_assert_cmpuint(hv_uart_receive(uart, in + 5, 15), ==, 11);
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 0);
    g_assert_cmpuint(hv_uart_receive(uart, in, 1), ==, 0);
    /* The host never overruns the guest: it is told there is no room. */
    g_assert_cmphex(hv_uart_read(uart, LSR), ==, 0x61);
    for (unsigned i = 0; i < 16; i++) {
        g_assert_cmphex(hv_uart_read(uart, LSR) & 0x01, ==, 0x01);
        g_assert_cmphex(hv_uart_read(uart, RBR), ==, in[i]);
    }
    g_assert_cmphex(hv_uart_read(uart, LSR), ==, 0x60);
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 16);
    /* Wrap around the ring. */
    g_assert_cmpuint(hv_uart_receive(uart, in, 10), ==, 10);
    g_assert_cmphex(hv_uart_read(uart, RBR), ==, 'a');
    g_assert_cmpuint(hv_uart_receive(uart, in + 10, 10), ==, 7);
    for (unsigned i = 1; i < 17; i++)
        g_assert_cmphex(hv_uart_read(uart, RBR), ==, in[i]);
    g_assert_cmphex(hv_uart_read(uart, LSR) & 0x01, ==, 0);
    fake_done(&f, uart);
}

static void test_rx_fifo_clear(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    hv_uart_write(uart, FCR, 0x01);
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"abcd", 4), ==, 4);
    hv_uart_write(uart, FCR, 0x03);
    g_assert_cmphex(hv_uart_read(uart, LSR) & 0x01, ==, 0);
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"abcd", 4), ==, 4);
    /* Turning the FIFOs off empties them and leaves a 1-byte holding register. */
    hv_uart_write(uart, FCR, 0x00);
    g_assert_cmphex(hv_uart_read(uart, LSR) & 0x01, ==, 0);
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 1);
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"xy", 2), ==, 1);
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 0);
    g_assert_cmphex(hv_uart_read(uart, IIR) & 0xc0, ==, 0);
    g_assert_cmphex(hv_uart_read(uart, RBR), ==, 'x');
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 1);
    /* Turning them on empties them too. */
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"z", 1), ==, 1);
    hv_uart_write(uart, FCR, 0x01);
    g_assert_cmphex(hv_uart_read(uart, IIR) & 0xc0, ==, 0xc0);
    g_assert_cmphex(hv_uart_read(uart, LSR) & 0x01, ==, 0);
    fake_done(&f, uart);
}

static void test_overrun(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    hv_uart_write(uart, FCR, 0x07);
    hv_uart_write(uart, MCR, MCR_LOOP);
    for (unsigned i = 0; i < 17; i++)
        hv_uart_write(uart, THR, (uint8_t)('A' + i));
    g_assert_cmphex(hv_uart_read(uart, LSR), ==, 0x63);
    /* OE clears when LSR is read; the FIFO kept the first 16, the 17th was lost. */
    g_assert_cmphex(hv_uart_read(uart, LSR), ==, 0x61);
    for (unsigned i = 0; i < 16; i++)
        g_assert_cmphex(hv_uart_read(uart, RBR), ==, 'A' + i);
    g_assert_cmphex(hv_uart_read(uart, LSR), ==, 0x60);

    /* Without FIFOs the second byte overwrites the holding register. */
    hv_uart_write(uart, FCR, 0x00);
    hv_uart_write(uart, THR, '1');
    hv_uart_write(uart, THR, '2');
    g_assert_cmphex(hv_uart_read(uart, LSR), ==, 0x63);
    g_assert_cmphex(hv_uart_read(uart, RBR), ==, '2');
    g_assert_cmpuint(f.out->len, ==, 0);
    fake_done(&f, uart);
}

static void test_iir_priority(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    hv_uart_write(uart, FCR, 0x07);
    hv_uart_write(uart, MCR, MCR_LOOP);
    for (unsigned i = 0; i < 17; i++)
        hv_uart_write(uart, THR, 'x');
    /* Make a modem status change pending too. */
    hv_uart_write(uart, MCR, MCR_LOOP | 0x03);
    hv_uart_write(uart, IER, 0x0f);

    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc6);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc6);
    hv_uart_read(uart, LSR);
    /* 16 bytes are at or above the trigger level of 1. */
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc4);
    for (unsigned i = 0; i < 16; i++)
        hv_uart_read(uart, RBR);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc2);
    /* THRE is acknowledged by the IIR read that reported it. */
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc0);
    /* Entering loopback dropped DCD, DSR, CTS; DTR|RTS then raised DSR and CTS. */
    g_assert_cmphex(hv_uart_read(uart, MSR), ==, 0x3b);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    g_assert_cmphex(hv_uart_read(uart, MSR), ==, 0x30);

    /* A pending THRE is not acknowledged by an IIR read that reported something else. */
    hv_uart_write(uart, THR, 'y');
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc4);
    hv_uart_read(uart, RBR);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc2);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    fake_done(&f, uart);
}

static void test_rx_trigger_timeout(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    hv_uart_write(uart, FCR, 0x81); /* trigger level 8 */
    hv_uart_write(uart, IER, 0x01);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"abc", 3), ==, 3);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xcc);
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"defgh", 5), ==, 5);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc4);
    hv_uart_read(uart, RBR);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xcc);
    hv_uart_write(uart, FCR, 0xc3); /* clear, trigger level 14 */
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"0123456789abcd", 14), ==, 14);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc4);
    hv_uart_read(uart, RBR);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xcc);
    /* Disabling ERBFI silences it. */
    hv_uart_write(uart, IER, 0x00);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    /* Without FIFOs there is no timeout indication, only data available. */
    hv_uart_write(uart, FCR, 0x00);
    hv_uart_write(uart, IER, 0x01);
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"q", 1), ==, 1);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0x04);
    fake_done(&f, uart);
}

static void test_thre(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    hv_uart_write(uart, FCR, 0x07);
    /* Setting ETBEI with THR empty raises THRE; reading IIR acknowledges it. */
    hv_uart_write(uart, IER, 0x02);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc2);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    /* Rewriting IER with ETBEI still set does not re-raise it... */
    hv_uart_write(uart, IER, 0x02);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    /* ...clearing and setting it again does (Linux's UART_BUG_THRE test). */
    hv_uart_write(uart, IER, 0x00);
    hv_uart_write(uart, IER, 0x02);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc2);
    /* A THR write empties at once and raises THRE again. */
    hv_uart_write(uart, THR, 'a');
    g_assert_cmphex(hv_uart_read(uart, LSR) & 0x60, ==, 0x60);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc2);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    /* Clearing ETBEI drops a pending THRE. */
    hv_uart_write(uart, THR, 'b');
    hv_uart_write(uart, IER, 0x00);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    /* With ETBEI clear, writes do not leave a THRE behind for later. */
    hv_uart_write(uart, THR, 'c');
    hv_uart_write(uart, IER, 0x01);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0xc1);
    fake_done(&f, uart);
}

static void test_irq_out2(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    /* No OUT2: an interrupt is pending but the line stays low (a polled guest). */
    hv_uart_write(uart, IER, 0x02);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0x02);
    hv_uart_write(uart, IER, 0x00);
    hv_uart_write(uart, IER, 0x03);
    g_assert_cmpuint(f.n_levels, ==, 0);
    /* OUT2 connects the pending THRE to the line. */
    hv_uart_write(uart, MCR, MCR_OUT2);
    g_assert_cmpuint(f.n_levels, ==, 1);
    g_assert_cmpint(f.levels[0], ==, 1);
    /* Only changes are reported. */
    hv_uart_write(uart, MCR, MCR_OUT2 | 0x03);
    hv_uart_read(uart, LSR);
    g_assert_cmpuint(f.n_levels, ==, 1);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0x02);
    g_assert_cmpuint(f.n_levels, ==, 2);
    g_assert_cmpint(f.levels[1], ==, 0);
    /* Received data raises it, reading the data lowers it. */
    hv_uart_receive(uart, (const uint8_t *)"k", 1);
    g_assert_cmpuint(f.n_levels, ==, 3);
    g_assert_cmpint(f.levels[2], ==, 1);
    g_assert_cmphex(hv_uart_read(uart, RBR), ==, 'k');
    g_assert_cmpuint(f.n_levels, ==, 4);
    g_assert_cmpint(f.levels[3], ==, 0);
    /* Clearing OUT2 with an interrupt pending lowers the line; setting it raises it. */
    hv_uart_receive(uart, (const uint8_t *)"k", 1);
    hv_uart_write(uart, MCR, 0x03);
    g_assert_cmpuint(f.n_levels, ==, 6);
    g_assert_cmpint(f.levels[4], ==, 1);
    g_assert_cmpint(f.levels[5], ==, 0);
    g_assert_cmphex(hv_uart_read(uart, IIR), ==, 0x04);
    hv_uart_write(uart, MCR, MCR_OUT2);
    g_assert_cmpuint(f.n_levels, ==, 7);
    g_assert_cmpint(f.levels[6], ==, 1);
    /* Loopback forces OUT2 inactive as seen by the PC's interrupt line. */
    hv_uart_write(uart, MCR, MCR_OUT2 | MCR_LOOP);
    g_assert_cmpuint(f.n_levels, ==, 8);
    g_assert_cmpint(f.levels[7], ==, 0);
    fake_done(&f, uart);
}

static void test_loopback(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    hv_uart_write(uart, FCR, 0x01);
    /* Linux's autoconfig check: RTS|OUT2 in loopback read back as CTS|DCD. */
    hv_uart_write(uart, MCR, MCR_LOOP | 0x0a);
    g_assert_cmphex(hv_uart_read(uart, MSR) & 0xf0, ==, 0x90);
    hv_uart_write(uart, MCR, MCR_LOOP | 0x05); /* DTR|OUT1 */
    g_assert_cmphex(hv_uart_read(uart, MSR), ==, 0x6b);
    hv_uart_write(uart, MCR, MCR_LOOP);
    /* RI falling edge: TERI; DSR changed: DDSR. */
    g_assert_cmphex(hv_uart_read(uart, MSR), ==, 0x06);
    g_assert_cmphex(hv_uart_read(uart, MSR), ==, 0x00);

    write_str(uart, "hi\n");
    hv_uart_flush(uart);
    g_assert_cmpuint(f.calls->len, ==, 0);
    g_assert_cmphex(hv_uart_read(uart, RBR), ==, 'h');
    g_assert_cmphex(hv_uart_read(uart, RBR), ==, 'i');
    g_assert_cmphex(hv_uart_read(uart, RBR), ==, '\n');
    /* The receiver is disconnected from the line in loopback. */
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 0);
    g_assert_cmpuint(hv_uart_receive(uart, (const uint8_t *)"x", 1), ==, 0);

    hv_uart_write(uart, MCR, 0x00);
    g_assert_cmphex(hv_uart_read(uart, MSR), ==, 0xbb);
    g_assert_cmpuint(hv_uart_rx_space(uart), ==, 16);
    write_str(uart, "ok\n");
    g_assert_cmpuint(f.calls->len, ==, 1);
    g_assert_cmpmem(f.out->data, f.out->len, "ok\n", 3);
    fake_done(&f, uart);
}

static void test_tx_batching(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);
    const char *burst = "0123456789abcdefXYZ";

    hv_uart_write(uart, FCR, 0x07);
    hv_uart_write(uart, LCR, 0x03);
    write_str(uart, burst);
    /* One call for the first 16 bytes; the tail waits for the timer, which the UART asked
       for once per partial batch: at the first byte of each. */
    g_assert_cmpuint(f.calls->len, ==, 1);
    g_assert_cmpuint(f.pending, ==, 2);
    GByteArray *first = g_ptr_array_index(f.calls, 0);
    g_assert_cmpmem(first->data, first->len, burst, 16);
    /* Meanwhile the guest sees an empty transmitter and never waits. */
    g_assert_cmphex(hv_uart_read(uart, LSR), ==, 0x60);
    g_assert_cmpuint(f.calls->len, ==, 1);
    hv_uart_flush(uart);
    g_assert_cmpuint(f.calls->len, ==, 2);
    g_assert_cmpmem(f.out->data, f.out->len, burst, strlen(burst));
    /* An empty flush calls nobody. */
    hv_uart_flush(uart);
    g_assert_cmpuint(f.calls->len, ==, 2);
    /* A newline hands the line over at once. */
    write_str(uart, "ab\r\n");
    g_assert_cmpuint(f.calls->len, ==, 3);
    g_assert_cmpuint(f.pending, ==, 3);
    /* A lone newline needs no timer. */
    write_str(uart, "\n");
    g_assert_cmpuint(f.pending, ==, 3);
    g_assert_cmpuint(f.calls->len, ==, 4);
    g_ptr_array_remove_index(f.calls, 3);
    GByteArray *line = g_ptr_array_index(f.calls, 2);
    g_assert_cmpmem(line->data, line->len, "ab\r\n", 4);
    /* So does a burst of exactly 16 without a newline, with nothing left over. */
    write_str(uart, "ABCDEFGHIJKLMNOP");
    g_assert_cmpuint(f.calls->len, ==, 4);
    hv_uart_flush(uart);
    g_assert_cmpuint(f.calls->len, ==, 4);
    fake_done(&f, uart);
}

/* A guest with FIFOs off that polls LSR for THRE and TEMT before every character. */
static void test_polled_guest(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);
    GString *expect = g_string_new(NULL);

    for (unsigned line = 0; line < 20; line++)
        g_string_append_printf(expect, "[    0.%06u] polled console line\r\n", line * 1234);
    g_string_append(expect, "login: ");
    for (size_t i = 0; i < expect->len; i++) {
        unsigned spins = 0;
        while ((hv_uart_read(uart, LSR) & 0x60) != 0x60)
            g_assert_cmpuint(++spins, <, 10);
        hv_uart_write(uart, THR, (uint8_t)expect->str[i]);
    }
    /* Whole lines arrived without a timer; not one call per character. */
    g_assert_cmpuint(f.out->len, ==, expect->len - strlen("login: "));
    g_assert_cmpuint(f.calls->len, <=, 20 * 4);
    hv_uart_flush(uart);
    g_assert_cmpmem(f.out->data, f.out->len, expect->str, expect->len);
    g_assert_cmpuint(f.n_levels, ==, 0);
    g_string_free(expect, TRUE);
    fake_done(&f, uart);
}

/* Linux's interrupt-driven transmit: 16 bytes per THRE, THRE seen again in the same ISR. */
static void test_irq_driven_guest(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);
    char text[200];
    size_t sent = 0;

    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 26);
    hv_uart_write(uart, FCR, 0xc7);
    hv_uart_write(uart, MCR, MCR_OUT2 | 0x03);
    hv_uart_write(uart, IER, 0x05);
    g_assert_cmpuint(f.n_levels, ==, 0);
    /* start_tx */
    hv_uart_write(uart, IER, 0x07);
    g_assert_cmpuint(f.n_levels, ==, 1);
    unsigned loops = 0;
    for (;;) {
        uint8_t iir = hv_uart_read(uart, IIR);
        if (iir & 0x01)
            break;
        g_assert_cmphex(iir, ==, 0xc2);
        g_assert_cmphex(hv_uart_read(uart, LSR) & 0x20, ==, 0x20);
        for (unsigned n = 0; n < 16 && sent < sizeof(text); n++)
            hv_uart_write(uart, THR, (uint8_t)text[sent++]);
        if (sent == sizeof(text))
            hv_uart_write(uart, IER, 0x05); /* stop_tx */
        g_assert_cmpuint(++loops, <, 100);
    }
    g_assert_cmpuint(sent, ==, sizeof(text));
    g_assert_cmpint(f.levels[f.n_levels - 1], ==, 0);
    hv_uart_flush(uart);
    g_assert_cmpmem(f.out->data, f.out->len, text, sizeof(text));
    g_assert_cmpuint(f.calls->len, ==, (sizeof(text) + 15) / 16);
    fake_done(&f, uart);
}

/* The probe and start-up sequence of Linux's 8250 driver finds a 16550A. */
static void test_linux_probe(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);

    hv_uart_write(uart, IER, 0x00);
    g_assert_cmphex(hv_uart_read(uart, IER) & 0x0f, ==, 0x00);
    hv_uart_write(uart, IER, 0x0f);
    g_assert_cmphex(hv_uart_read(uart, IER) & 0x0f, ==, 0x0f);
    hv_uart_write(uart, IER, 0x00);
    hv_uart_write(uart, FCR, 0x01);
    g_assert_cmphex(hv_uart_read(uart, IIR) >> 6, ==, 3);
    /* No EFR behind the 0xBF or DLAB doors: IIR is non-zero there. */
    hv_uart_write(uart, LCR, 0x80);
    g_assert_cmphex(hv_uart_read(uart, IIR), !=, 0);
    hv_uart_write(uart, LCR, 0xbf);
    g_assert_cmphex(hv_uart_read(uart, IIR), !=, 0);
    /* Not a 16750: the 64-byte FIFO bit does not stick. */
    hv_uart_write(uart, LCR, 0x00);
    hv_uart_write(uart, FCR, 0x21);
    g_assert_cmphex(hv_uart_read(uart, IIR) & 0xe0, ==, 0xc0);
    hv_uart_write(uart, LCR, 0x80);
    hv_uart_write(uart, FCR, 0x21);
    g_assert_cmphex(hv_uart_read(uart, IIR) & 0xe0, ==, 0xc0);
    hv_uart_write(uart, LCR, 0x00);
    /* Start-up: LSR is not 0xff; enabling THRI shows TEMT and an interrupt. */
    hv_uart_write(uart, FCR, 0x07);
    g_assert_cmphex(hv_uart_read(uart, LSR), !=, 0xff);
    hv_uart_write(uart, IER, 0x02);
    g_assert_cmphex(hv_uart_read(uart, LSR) & 0x40, ==, 0x40);
    g_assert_cmphex(hv_uart_read(uart, IIR) & 0x01, ==, 0);
    hv_uart_write(uart, IER, 0x00);
    g_assert_cmpuint(f.n_levels, ==, 0);
    fake_done(&f, uart);
}

struct writer {
    struct hv_uart *uart;
    char tag;
};

static void *writer_thread(void *arg)
{
    struct writer *w = arg;
    for (unsigned i = 0; i < 2000; i++) {
        hv_uart_read(w->uart, LSR);
        hv_uart_write(w->uart, THR, (uint8_t)w->tag);
    }
    return NULL;
}

/* vCPU threads write while the main loop flushes and receives. */
static void test_threads(void)
{
    struct fake f;
    struct hv_uart *uart = fake_uart(&f);
    pthread_t threads[4];
    struct writer writers[4];

    hv_uart_write(uart, FCR, 0x07);
    for (unsigned i = 0; i < 4; i++) {
        writers[i] = (struct writer){.uart = uart, .tag = (char)('A' + i)};
        g_assert_cmpint(pthread_create(&threads[i], NULL, writer_thread, &writers[i]), ==, 0);
    }
    for (unsigned i = 0; i < 1000; i++) {
        hv_uart_flush(uart);
        if (hv_uart_rx_space(uart))
            hv_uart_receive(uart, (const uint8_t *)"r", 1);
    }
    for (unsigned i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    hv_uart_flush(uart);
    unsigned counts[4] = {0};
    for (unsigned i = 0; i < f.out->len; i++) {
        g_assert_cmpint(f.out->data[i], >=, 'A');
        g_assert_cmpint(f.out->data[i], <=, 'D');
        counts[f.out->data[i] - 'A']++;
    }
    for (unsigned i = 0; i < 4; i++)
        g_assert_cmpuint(counts[i], ==, 2000);
    fake_done(&f, uart);
}

static void test_no_callbacks(void)
{
    struct hv_uart *uart = hv_uart_new(NULL);
    g_assert_nonnull(uart);
    hv_uart_write(uart, MCR, MCR_OUT2);
    hv_uart_write(uart, IER, 0x0f);
    write_str(uart, "0123456789abcdefgh\n");
    hv_uart_flush(uart);
    hv_uart_free(uart);
    hv_uart_free(NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/uart/reset-state", test_reset_state);
    g_test_add_func("/uart/divisor-latch", test_divisor_latch);
    g_test_add_func("/uart/scratch-lcr-masks", test_scratch_lcr_masks);
    g_test_add_func("/uart/rx-fifo", test_rx_fifo);
    g_test_add_func("/uart/rx-fifo-clear", test_rx_fifo_clear);
    g_test_add_func("/uart/overrun", test_overrun);
    g_test_add_func("/uart/iir-priority", test_iir_priority);
    g_test_add_func("/uart/rx-trigger-timeout", test_rx_trigger_timeout);
    g_test_add_func("/uart/thre", test_thre);
    g_test_add_func("/uart/irq-out2", test_irq_out2);
    g_test_add_func("/uart/loopback", test_loopback);
    g_test_add_func("/uart/tx-batching", test_tx_batching);
    g_test_add_func("/uart/polled-guest", test_polled_guest);
    g_test_add_func("/uart/irq-driven-guest", test_irq_driven_guest);
    g_test_add_func("/uart/linux-probe", test_linux_probe);
    g_test_add_func("/uart/threads", test_threads);
    g_test_add_func("/uart/no-callbacks", test_no_callbacks);
    return g_test_run();
}
