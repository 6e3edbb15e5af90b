/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-net driven through its PCI registers with rings in fake RAM, over test backends. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio-harness.h"
#include "virtio/net.h"


#define RXQ HV_NET_RXQ
#define TXQ HV_NET_TXQ
#define F_MRG (1u << VIRTIO_NET_F_MRG_RXBUF)

static const uint8_t test_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

/* The device raises INTx, which the tests read in the ISR. */
struct fixture {
    struct vh vh;
    struct hv_virtio_net *net;
    int peer;      /* the test's end of a socketpair backend; -1 otherwise */
    int be_fd;     /* the backend's end */
    uint64_t next_buf;
};

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

static uint64_t alloc_buf(struct fixture *f, uint32_t len)
{
    uint64_t gpa = f->next_buf;
    f->next_buf += (len + 63) & ~63u;
    memset(vh_ram(&f->vh, gpa, len), 0xee, len);
    return gpa;
}

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    memset(f, 0, sizeof(*f));
    f->peer = f->be_fd = -1;
    vh_init(&f->vh);
    f->next_buf = BUF_GPA;
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    if (f->net)
        hv_virtio_net_device_ops.destroy(f->net);
    if (f->peer >= 0)
        close(f->peer);
    vh_fini(&f->vh);
}

static void new_net(struct fixture *f, struct hv_net_backend *be)
{
    f->net = g_new0(struct hv_virtio_net, 1);
    g_assert_cmpint(hv_virtio_net_init(f->net, be, "net0", test_mac, &f->vh.vm, &f->vh.mem),
                    ==, 0);
    vh_plug(&f->vh, &f->net->dev);
}

/* A socketpair backend: one frame per message, as a tap delivers them. */
static void new_socket_net(struct fixture *f, bool vnet_hdr, uint64_t offloads)
{
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==, 0);
    f->peer = sv[1];
    f->be_fd = sv[0];
    new_net(f, hv_net_fd_backend_new(sv[0], "test", vnet_hdr, offloads));
}

/* What a Linux driver does, up to DRIVER_OK; `features` is the low word it accepts. */
static void driver_start(struct fixture *f, uint32_t features)
{
    vh_regs_write(&f->vh, C_STATUS, 3, 1);
    vh_regs_write(&f->vh, C_GFSELECT, 0, 4);
    vh_regs_write(&f->vh, C_GF, features, 4);
    vh_regs_write(&f->vh, C_GFSELECT, 1, 4);
    vh_regs_write(&f->vh, C_GF, 1, 4); /* VERSION_1 */
    vh_regs_write(&f->vh, C_STATUS, 0xb, 1);
    g_assert_cmpuint(vh_regs_read(&f->vh, C_STATUS, 1), ==, 0xb);
    for (unsigned q = 0; q < 2; q++) {
        vh_regs_write(&f->vh, C_QSELECT, q, 2);
        vh_regs_write(&f->vh, C_QSIZE, QSIZE, 2);
        vh_regs_write(&f->vh, C_QDESC, RING_GPA(q), 8);
        vh_regs_write(&f->vh, C_QDRIVER, RING_GPA(q) + 0x1000, 8);
        vh_regs_write(&f->vh, C_QDEVICE, RING_GPA(q) + 0x2000, 8);
        vh_regs_write(&f->vh, C_QENABLE, 1, 2);
    }
    vh_regs_write(&f->vh, C_STATUS, 0xf, 1);
    vh_pump();
}

/* Makes a chain available on queue q without kicking; returns its head. */
static uint16_t post(struct fixture *f, unsigned q, const struct seg *segs, unsigned n)
{
    uint16_t head = f->vh.next_desc[q] % QSIZE;
    for (unsigned i = 0; i < n; i++) {
        uint16_t d = f->vh.next_desc[q]++ % QSIZE;
        uint8_t *desc = vh_ram(&f->vh, RING_GPA(q) + 16ull * d, 16);
        uint16_t flags = (segs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
                         (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
        uint16_t next = f->vh.next_desc[q] % QSIZE;
        memcpy(desc, &segs[i].gpa, 8);
        memcpy(desc + 8, &segs[i].len, 4);
        memcpy(desc + 12, &flags, 2);
        memcpy(desc + 14, &next, 2);
    }
    uint8_t *avail = vh_ram(&f->vh, RING_GPA(q) + 0x1000, 4 + 2 * QSIZE);
    memcpy(avail + 4 + 2 * (f->vh.avail_idx[q] % QSIZE), &head, 2);
    f->vh.avail_idx[q]++;
    memcpy(avail + 2, &f->vh.avail_idx[q], 2);
    return head;
}

static void kick(struct fixture *f, unsigned q)
{
    vh_regs_write(&f->vh, NOTIFY_OFF + 4 * q, q, 2);
    vh_pump();
}

/* One writable buffer of `len` bytes on the RX queue; returns its address. */
static uint64_t post_rx(struct fixture *f, uint32_t len)
{
    struct seg s = {alloc_buf(f, len), len, true};
    post(f, RXQ, &s, 1);
    return s.gpa;
}

static void used_elem(struct fixture *f, unsigned q, unsigned i, uint32_t *id, uint32_t *len)
{
    const uint8_t *e = vh_ram(&f->vh, RING_GPA(q) + 0x2004 + 8 * (i % QSIZE), 8);
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
}

/* Reading the ISR acknowledges it, as a driver's interrupt handler does. */
static uint8_t isr(struct fixture *f)
{
    return (uint8_t)vh_regs_read(&f->vh, ISR_OFF, 1);
}

static void peer_send(struct fixture *f, const void *buf, size_t len)
{
    g_assert_cmpint(send(f->peer, buf, len, 0), ==, (ssize_t)len);
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static uint16_t hdr_num_buffers(struct fixture *f, uint64_t gpa)
{
    struct hv_virtio_net_hdr h;
    memcpy(&h, vh_ram(&f->vh, gpa, sizeof(h)), sizeof(h));
    return h.num_buffers;
}

static char *json_of(void (*fn)(void *, JsonBuilder *), void *impl)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    fn(impl, b);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    return json_to_string(root, FALSE);
}

#define ASSERT_HAS(text, needle)                                                                   \
    do {                                                                                           \
        if (!strstr((text), (needle)))                                                             \
            g_error("%s lacks %s", (text), (needle));                                              \
    } while (0)

/* ---- config and features ---- */

static void test_config(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, false, 0);
    for (unsigned i = 0; i < 6; i++)
        g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + i, 1), ==, test_mac[i]);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + 6, 2), ==, 1); /* LINK_UP */
    vh_regs_write(&f->vh, C_DFSELECT, 0, 4);
    uint32_t lo = (uint32_t)vh_regs_read(&f->vh, C_DF, 4);
    g_assert_true(lo & (1u << VIRTIO_NET_F_MAC));
    g_assert_true(lo & (1u << VIRTIO_NET_F_STATUS));
    g_assert_true(lo & F_MRG);
    /* User networking wants whole, checksummed frames: no offloads. */
    g_assert_false(lo & (1u << VIRTIO_NET_F_CSUM));
    g_assert_false(lo & (1u << VIRTIO_NET_F_GUEST_TSO4));

    hv_virtio_net_set_link(f->net, false);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + 6, 2), ==, 0);
    g_assert_cmpuint(isr(f) & 2, ==, 2); /* a configuration change interrupt */
    g_autofree char *d = json_of(hv_virtio_net_device_ops.describe, f->net);
    ASSERT_HAS(d, "\"backend\":\"test\"");
    ASSERT_HAS(d, "\"mac\":\"52:54:00:12:34:56\"");
    ASSERT_HAS(d, "\"link\":\"down\"");
}

static void test_offload_features(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t off = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
                   (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO4);
    new_socket_net(f, true, off);
    vh_regs_write(&f->vh, C_DFSELECT, 0, 4);
    uint32_t lo = (uint32_t)vh_regs_read(&f->vh, C_DF, 4);
    g_assert_cmphex(lo & off, ==, off);
    g_assert_false(lo & (1u << VIRTIO_NET_F_HOST_UFO));
}

static void test_default_mac(void)
{
    uint8_t a[6], b[6], c[6], d[6];
    hv_net_default_mac("/run/user/1000/vmdesk/a.sock", 0, NULL, a);
    hv_net_default_mac("/run/user/1000/vmdesk/a.sock", 0, NULL, b);
    hv_net_default_mac("/run/user/1000/vmdesk/a.sock", 1, NULL, c);
    hv_net_default_mac("/run/user/1000/vmdesk/b.sock", 0, NULL, d);
    g_assert_cmpmem(a, 6, b, 6);
    g_assert_cmpuint(a[0], ==, 0x52);
    g_assert_cmpuint(a[1], ==, 0x54);
    g_assert_cmpuint(a[2], ==, 0x00);
    g_assert_true(memcmp(a, c, 6) != 0);
    g_assert_true(memcmp(a, d, 6) != 0);
    hv_net_default_mac(NULL, 0, "tap0", c);
    hv_net_default_mac(NULL, 0, "tap1", d);
    g_assert_true(memcmp(c, d, 6) != 0);
}

/* ---- receive ---- */

static void test_rx_mergeable(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, false, 0);
    driver_start(f, F_MRG);
    uint64_t b0 = post_rx(f, 64), b1 = post_rx(f, 64);
    post_rx(f, 64);
    kick(f, RXQ);
    g_assert_cmpuint(isr(f), ==, 0);

    uint8_t frame[100];
    fill(frame, sizeof(frame), 1);
    peer_send(f, frame, sizeof(frame));
    vh_pump();
    /* 12 + 100 bytes: the first buffer full, 48 bytes in the second; the third untouched. */
    g_assert_cmpuint(vh_used_idx(&f->vh, RXQ), ==, 2);
    uint32_t id, len;
    used_elem(f, RXQ, 0, &id, &len);
    g_assert_cmpuint(id, ==, 0);
    g_assert_cmpuint(len, ==, 64);
    used_elem(f, RXQ, 1, &id, &len);
    g_assert_cmpuint(id, ==, 1);
    g_assert_cmpuint(len, ==, 48);
    g_assert_cmpuint(hdr_num_buffers(f, b0), ==, 2);
    g_assert_cmpuint(vh_ram(&f->vh, b0, 2)[0], ==, 0); /* flags: nothing to say about checksums */
    g_assert_cmpmem(vh_ram(&f->vh, b0 + 12, 52), 52, frame, 52);
    g_assert_cmpmem(vh_ram(&f->vh, b1, 48), 48, frame + 52, 48);
    g_assert_cmpuint(isr(f) & 1, ==, 1);
    g_autofree char *s = json_of(hv_virtio_net_device_ops.stats, f->net);
    ASSERT_HAS(s, "\"rx-packets\":1,\"rx-bytes\":100,\"rx-dropped\":0");
}

static void test_rx_single_buffer(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, false, 0);
    driver_start(f, 0);
    /* The classic layout without MRG_RXBUF: header and packet in separate descriptors. */
    struct seg segs[2] = {{alloc_buf(f, 12), 12, true}, {alloc_buf(f, 200), 200, true}};
    post(f, RXQ, segs, 2);
    kick(f, RXQ);

    /* Too big for any buffer: dropped, and the buffer stays for the next frame. */
    uint8_t big[300], small[60];
    fill(big, sizeof(big), 3);
    fill(small, sizeof(small), 9);
    peer_send(f, big, sizeof(big));
    peer_send(f, small, sizeof(small));
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, RXQ), ==, 1);
    uint32_t id, len;
    used_elem(f, RXQ, 0, &id, &len);
    g_assert_cmpuint(id, ==, 0);
    g_assert_cmpuint(len, ==, 72);
    g_assert_cmpuint(hdr_num_buffers(f, segs[0].gpa), ==, 1);
    g_assert_cmpmem(vh_ram(&f->vh, segs[1].gpa, 60), 60, small, 60);
    g_autofree char *s = json_of(hv_virtio_net_device_ops.stats, f->net);
    ASSERT_HAS(s, "\"rx-packets\":1,\"rx-bytes\":60,\"rx-dropped\":1");
}

/* A vnet-header backend's header reaches the guest as it was (offload flags, GSO). */
static void test_rx_vnet_header(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, true, 1ull << VIRTIO_NET_F_GUEST_CSUM);
    driver_start(f, F_MRG | (1u << VIRTIO_NET_F_GUEST_CSUM));
    uint64_t b = post_rx(f, 2048);
    kick(f, RXQ);
    uint8_t frame[12 + 80];
    fill(frame, sizeof(frame), 5);
    struct hv_virtio_net_hdr h = {.flags = 1, .gso_type = 0, .hdr_len = 54, .csum_start = 34,
                                  .csum_offset = 16, .num_buffers = 0x7777};
    memcpy(frame, &h, 12);
    peer_send(f, frame, sizeof(frame));
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, RXQ), ==, 1);
    struct hv_virtio_net_hdr got;
    memcpy(&got, vh_ram(&f->vh, b, 12), 12);
    g_assert_cmpuint(got.flags, ==, 1);
    g_assert_cmpuint(got.csum_start, ==, 34);
    g_assert_cmpuint(got.csum_offset, ==, 16);
    g_assert_cmpuint(got.num_buffers, ==, 1); /* ours, not the backend's */
    g_assert_cmpmem(vh_ram(&f->vh, b + 12, 80), 80, frame + 12, 80);
}

static void test_rx_backpressure(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, false, 0);
    driver_start(f, F_MRG);
    uint8_t a[100], b[100];
    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    peer_send(f, a, sizeof(a));
    peer_send(f, b, sizeof(b));
    vh_pump();
    /* No buffers: nothing delivered or lost; the second frame is still in the kernel. */
    g_assert_cmpuint(vh_used_idx(&f->vh, RXQ), ==, 0);
    g_assert_true(f->net->rx_waiting);
    int queued = 0;
    g_assert_cmpint(ioctl(f->be_fd, FIONREAD, &queued), ==, 0);
    g_assert_cmpint(queued, ==, 100);

    /* Room for only part of the frame: it waits whole rather than being cut. */
    uint64_t b0 = post_rx(f, 64);
    kick(f, RXQ);
    g_assert_cmpuint(vh_used_idx(&f->vh, RXQ), ==, 0);
    uint64_t b1 = post_rx(f, 64);
    kick(f, RXQ);
    g_assert_cmpuint(vh_used_idx(&f->vh, RXQ), ==, 2);
    g_assert_cmpuint(hdr_num_buffers(f, b0), ==, 2);
    g_assert_cmpmem(vh_ram(&f->vh, b0 + 12, 52), 52, a, 52);
    g_assert_cmpmem(vh_ram(&f->vh, b1, 48), 48, a + 52, 48);

    /* The next frame, read once the guest had room, comes next and in order. */
    uint64_t b2 = post_rx(f, 256);
    kick(f, RXQ);
    g_assert_cmpuint(vh_used_idx(&f->vh, RXQ), ==, 3);
    g_assert_cmpmem(vh_ram(&f->vh, b2 + 12, 100), 100, b, 100);
    g_autofree char *s = json_of(hv_virtio_net_device_ops.stats, f->net);
    ASSERT_HAS(s, "\"rx-packets\":2,\"rx-bytes\":200,\"rx-dropped\":0");
}

static void test_rx_before_driver(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, false, 0);
    uint8_t a[60] = {0};
    peer_send(f, a, sizeof(a));
    vh_pump();
    /* No driver yet: dropped, not held (which would stall the backend). */
    g_assert_false(f->net->rx_waiting);
    g_autofree char *s = json_of(hv_virtio_net_device_ops.stats, f->net);
    ASSERT_HAS(s, "\"rx-dropped\":1");
}

/* ---- transmit ---- */

static void recv_frame(struct fixture *f, uint8_t *buf, size_t size, ssize_t expect)
{
    ssize_t n = recv(f->peer, buf, size, MSG_DONTWAIT);
    g_assert_cmpint(n, ==, expect);
}

static void test_tx_split_header(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, false, 0);
    driver_start(f, F_MRG);
    /* Header split 5 + 7, the frame's first 10 bytes with the header's tail, then 50. */
    uint8_t frame[60];
    fill(frame, sizeof(frame), 4);
    struct seg segs[3] = {{alloc_buf(f, 5), 5, false}, {alloc_buf(f, 17), 17, false},
                          {alloc_buf(f, 50), 50, false}};
    memset(vh_ram(&f->vh, segs[0].gpa, 5), 0, 5);
    memset(vh_ram(&f->vh, segs[1].gpa, 7), 0, 7);
    memcpy(vh_ram(&f->vh, segs[1].gpa + 7, 10), frame, 10);
    memcpy(vh_ram(&f->vh, segs[2].gpa, 50), frame + 10, 50);
    post(f, TXQ, segs, 3);
    kick(f, TXQ);
    g_assert_cmpuint(vh_used_idx(&f->vh, TXQ), ==, 1);
    uint32_t id, len;
    used_elem(f, TXQ, 0, &id, &len);
    g_assert_cmpuint(id, ==, 0);
    g_assert_cmpuint(len, ==, 0);
    g_assert_cmpuint(isr(f) & 1, ==, 1);
    uint8_t got[200];
    recv_frame(f, got, sizeof(got), 60);
    g_assert_cmpmem(got, 60, frame, 60);
    g_autofree char *s = json_of(hv_virtio_net_device_ops.stats, f->net);
    ASSERT_HAS(s, "\"tx-packets\":1,\"tx-bytes\":60,\"tx-dropped\":0");
}

static void test_tx_vnet_header(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, true, (1ull << VIRTIO_NET_F_CSUM));
    driver_start(f, F_MRG | (1u << VIRTIO_NET_F_CSUM));
    /* With a vnet-header backend the chain goes out whole: header, offload request, frame. */
    uint8_t chain[12 + 64];
    fill(chain, sizeof(chain), 6);
    struct seg segs[2] = {{alloc_buf(f, 12), 12, false}, {alloc_buf(f, 64), 64, false}};
    memcpy(vh_ram(&f->vh, segs[0].gpa, 12), chain, 12);
    memcpy(vh_ram(&f->vh, segs[1].gpa, 64), chain + 12, 64);
    post(f, TXQ, segs, 2);
    /* Several chains in one kick. */
    post(f, TXQ, segs, 2);
    kick(f, TXQ);
    g_assert_cmpuint(vh_used_idx(&f->vh, TXQ), ==, 2);
    uint8_t got[200];
    recv_frame(f, got, sizeof(got), sizeof(chain));
    g_assert_cmpmem(got, sizeof(chain), chain, sizeof(chain));
    recv_frame(f, got, sizeof(got), sizeof(chain));
}

static void test_tx_short_chain(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, false, 0);
    driver_start(f, F_MRG);
    struct seg s = {alloc_buf(f, 8), 8, false};
    post(f, TXQ, &s, 1);
    kick(f, TXQ);
    /* Shorter than the header: the guest broke the protocol; the device needs a reset. */
    g_assert_true(vh_regs_read(&f->vh, C_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    uint8_t got[64];
    g_assert_cmpint(recv(f->peer, got, sizeof(got), MSG_DONTWAIT), ==, -1);
    /* A reset brings it back. */
    vh_regs_write(&f->vh, C_STATUS, 0, 1);
    g_assert_cmpuint(vh_regs_read(&f->vh, C_STATUS, 1), ==, 0);
}

static void test_tx_dropped(struct fixture *f, gconstpointer data)
{
    (void)data;
    new_socket_net(f, false, 0);
    driver_start(f, F_MRG);
    close(f->peer); /* the host side is gone: frames are counted as dropped, not stuck */
    f->peer = -1;
    struct seg s = {alloc_buf(f, 72), 72, false};
    memset(vh_ram(&f->vh, s.gpa, 72), 0, 72);
    post(f, TXQ, &s, 1);
    kick(f, TXQ);
    g_assert_cmpuint(vh_used_idx(&f->vh, TXQ), ==, 1);
    g_autofree char *st = json_of(hv_virtio_net_device_ops.stats, f->net);
    ASSERT_HAS(st, "\"tx-packets\":0,\"tx-bytes\":0,\"tx-dropped\":1");
}

/* ---- user networking, end to end through libslirp ---- */

static uint64_t rx_bufs[QSIZE];

static void new_slirp_net(struct fixture *f, const struct hv_net_spec *spec)
{
    char *err = NULL;
    struct hv_net_backend *be = hv_net_slirp_new(spec, "net0", &err);
    if (!be)
        g_error("%s", err);
    new_net(f, be);
    driver_start(f, F_MRG);
    for (unsigned i = 0; i < 8; i++) {
        uint16_t head = f->vh.next_desc[RXQ] % QSIZE;
        rx_bufs[head] = post_rx(f, 2048);
    }
    kick(f, RXQ);
}

static void send_tx(struct fixture *f, const uint8_t *frame, size_t len)
{
    struct seg s = {alloc_buf(f, (uint32_t)(12 + len)), (uint32_t)(12 + len), false};
    memset(vh_ram(&f->vh, s.gpa, 12), 0, 12);
    memcpy(vh_ram(&f->vh, s.gpa + 12, len), frame, len);
    post(f, TXQ, &s, 1);
    kick(f, TXQ);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Builds Ethernet + IPv4 + UDP headers around `plen` bytes already at p + 42. */
static size_t udp_frame(uint8_t *p, const uint8_t dst_mac[6], uint32_t src, uint32_t dst,
                        uint16_t sport, uint16_t dport, size_t plen)
{
    memcpy(p, dst_mac, 6);
    memcpy(p + 6, test_mac, 6);
    put16(p + 12, 0x0800);
    uint8_t *ip = p + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + 8 + plen));
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, &src, 4);
    memcpy(ip + 16, &dst, 4);
    uint32_t sum = 0;
    for (unsigned i = 0; i < 20; i += 2)
        sum += get16(ip + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(ip + 10, (uint16_t)~sum);
    uint8_t *udp = ip + 20;
    put16(udp, sport);
    put16(udp + 2, dport);
    put16(udp + 4, (uint16_t)(8 + plen));
    put16(udp + 6, 0); /* no checksum, which UDP over IPv4 allows */
    return 42 + plen;
}

#define DHCP_XID 0x1234abcd

static void send_dhcp_discover(struct fixture *f)
{
    uint8_t frame[42 + 548] = {0};
    uint8_t *bp = frame + 42;
    bp[0] = 1; /* BOOTREQUEST */
    bp[1] = 1;
    bp[2] = 6;
    uint32_t xid = htonl(DHCP_XID);
    memcpy(bp + 4, &xid, 4);
    memcpy(bp + 28, test_mac, 6);
    static const uint8_t opts[] = {99, 130, 83, 99, 53, 1, 1 /* DISCOVER */, 255};
    memcpy(bp + 236, opts, sizeof(opts));
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    size_t len = udp_frame(frame, bcast, 0, 0xffffffffu, 68, 67, 548);
    send_tx(f, frame, len);
}

/* The guest's side of ARP: 10.0.2.15 is at test_mac. */
static void answer_arp(struct fixture *f, const uint8_t *req)
{
    uint8_t r[42];
    memcpy(r, req + 6, 6);
    memcpy(r + 6, test_mac, 6);
    put16(r + 12, 0x0806);
    memcpy(r + 14, req + 14, 6); /* htype, ptype, hlen, plen */
    put16(r + 20, 2);
    memcpy(r + 22, test_mac, 6);
    memcpy(r + 28, req + 38, 4);
    memcpy(r + 32, req + 22, 10);
    send_tx(f, r, sizeof(r));
}

/* The next frame slirp gave the guest (after the virtio-net header), within 3 s. */
static const uint8_t *next_rx(struct fixture *f, uint16_t *seen, uint32_t *len)
{
    for (unsigned i = 0; i < 3000 && vh_used_idx(&f->vh, RXQ) == *seen; i++) {
        vh_pump();
        if (vh_used_idx(&f->vh, RXQ) == *seen)
            g_usleep(1000);
    }
    if (vh_used_idx(&f->vh, RXQ) == *seen)
        return NULL;
    uint32_t id;
    used_elem(f, RXQ, *seen, &id, len);
    (*seen)++;
    g_assert_cmpuint(id, <, QSIZE);
    g_assert_cmpuint(*len, >, 12 + 14);
    const uint8_t *p = vh_ram(&f->vh, rx_bufs[id], *len);
    /* Give the buffer back, as a driver refills its ring. */
    struct seg s = {rx_bufs[id], 2048, true};
    uint16_t head = post(f, RXQ, &s, 1);
    rx_bufs[head] = s.gpa;
    *len -= 12;
    return p + 12;
}

static void test_slirp_dhcp(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_net_spec spec = {.kind = HV_NET_USER};
    new_slirp_net(f, &spec);
    send_dhcp_discover(f);
    uint16_t seen = 0;
    uint32_t len;
    const uint8_t *p;
    while ((p = next_rx(f, &seen, &len))) {
        if (get16(p + 12) != 0x0800 || p[14 + 9] != 17 || get16(p + 34) != 67)
            continue;
        const uint8_t *bp = p + 42;
        g_assert_cmpuint(get16(p + 36), ==, 68);
        g_assert_cmpuint(bp[0], ==, 2); /* BOOTREPLY */
        uint32_t xid, yiaddr;
        memcpy(&xid, bp + 4, 4);
        memcpy(&yiaddr, bp + 16, 4);
        g_assert_cmphex(ntohl(xid), ==, DHCP_XID);
        g_assert_cmphex(ntohl(yiaddr), ==, 0x0a00020f); /* 10.0.2.15 */
        /* DHCP message type 2: OFFER. */
        bool offer = false;
        for (uint32_t i = 240; 42 + i + 2 < len && bp[i] != 255; i += bp[i] ? 2u + bp[i + 1] : 1u)
            if (bp[i] == 53 && bp[i + 1] == 1 && bp[i + 2] == 2)
                offer = true;
        g_assert_true(offer);
        g_autofree char *s = json_of(hv_virtio_net_device_ops.stats, f->net);
        ASSERT_HAS(s, "\"tx-packets\":1");
        return;
    }
    g_error("no DHCP offer reached the guest");
}

static uint16_t free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_assert_cmpint(bind(s, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    socklen_t al = sizeof(a);
    g_assert_cmpint(getsockname(s, (struct sockaddr *)&a, &al), ==, 0);
    close(s);
    return ntohs(a.sin_port);
}

static void test_slirp_hostfwd(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_net_spec spec = {.kind = HV_NET_USER, .nr_hostfwd = 1};
    uint16_t port = free_port();
    spec.hostfwd[0] = (struct hv_hostfwd){.host_addr = (char *)"127.0.0.1", .host_port = port,
                                          .guest_port = 7777};
    new_slirp_net(f, &spec);
    g_autofree char *d = json_of(hv_virtio_net_device_ops.describe, f->net);
    g_autofree char *fwd = g_strdup_printf("\"hostfwd\":[\"tcp:127.0.0.1:%u-:7777\"]", port);
    ASSERT_HAS(d, fwd);

    /* A host client connects to the forwarded port; slirp opens TCP to the guest. */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = connect(c, (struct sockaddr *)&a, sizeof(a));
    g_assert_true(r == 0 || errno == EINPROGRESS);
    uint16_t seen = 0;
    uint32_t len;
    const uint8_t *p;
    while ((p = next_rx(f, &seen, &len))) {
        if (get16(p + 12) == 0x0806 && get16(p + 20) == 1) {
            answer_arp(f, p);
            continue;
        }
        if (get16(p + 12) != 0x0800 || p[14 + 9] != 6)
            continue;
        const uint8_t *tcp = p + 14 + 4 * (p[14] & 15);
        uint32_t dst;
        memcpy(&dst, p + 30, 4);
        g_assert_cmphex(ntohl(dst), ==, 0x0a00020f);
        g_assert_cmpuint(get16(tcp + 2), ==, 7777);
        g_assert_cmphex(tcp[13] & 0x12, ==, 0x02); /* SYN, no ACK */
        close(c);
        return;
    }
    g_error("no SYN reached the guest for the forwarded port");
}

static void test_slirp_port_taken(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_assert_cmpint(bind(s, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(listen(s, 1), ==, 0);
    socklen_t al = sizeof(a);
    g_assert_cmpint(getsockname(s, (struct sockaddr *)&a, &al), ==, 0);
    uint16_t taken = ntohs(a.sin_port), free = free_port();

    /* The second forward's port is taken: no backend, one line naming it. */
    struct hv_net_spec spec = {.kind = HV_NET_USER, .nr_hostfwd = 2};
    spec.hostfwd[0] = (struct hv_hostfwd){.host_addr = (char *)"127.0.0.1", .host_port = free,
                                          .guest_port = 22};
    spec.hostfwd[1] = (struct hv_hostfwd){.host_addr = (char *)"127.0.0.1", .host_port = taken,
                                          .guest_port = 80};
    char *err = NULL;
    g_assert_null(hv_net_slirp_new(&spec, "net0", &err));
    g_autofree char *want = g_strdup_printf("127.0.0.1:%u: %s", taken, g_strerror(EADDRINUSE));
    ASSERT_HAS(err, want);
    g_assert_null(strchr(err, '\n'));
    g_free(err);
    close(s);

    /* Nothing left behind: the first forward's port is free again. */
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin_port = htons(free);
    g_assert_cmpint(bind(t, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    close(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define T(name, fn) g_test_add(name, struct fixture, NULL, setup, fn, teardown)
    T("/virtio-net/config", test_config);
    T("/virtio-net/offload-features", test_offload_features);
    g_test_add_func("/virtio-net/default-mac", test_default_mac);
    T("/virtio-net/rx/mergeable", test_rx_mergeable);
    T("/virtio-net/rx/single-buffer", test_rx_single_buffer);
    T("/virtio-net/rx/vnet-header", test_rx_vnet_header);
    T("/virtio-net/rx/backpressure", test_rx_backpressure);
    T("/virtio-net/rx/before-driver", test_rx_before_driver);
    T("/virtio-net/tx/split-header", test_tx_split_header);
    T("/virtio-net/tx/vnet-header", test_tx_vnet_header);
    T("/virtio-net/tx/short-chain", test_tx_short_chain);
    T("/virtio-net/tx/dropped", test_tx_dropped);
    T("/virtio-net/slirp/dhcp", test_slirp_dhcp);
    T("/virtio-net/slirp/hostfwd", test_slirp_hostfwd);
    g_test_add_func("/virtio-net/slirp/hostfwd-port-taken", test_slirp_port_taken);
    return g_test_run();
}
