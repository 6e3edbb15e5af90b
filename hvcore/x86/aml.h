/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A small ACPI Machine Language encoder: just what the DSDT of this machine needs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct aml {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* The smallest encoding of an integer (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix). */
void aml_int(struct aml *a, uint64_t v);
/* A NameString: "\\_SB_", "PCI0" (segments of four characters). */
void aml_name(struct aml *a, const char *name);
/* EisaId("PNP0A03") as a DWord constant. */
void aml_eisaid(struct aml *a, const char *id);

/*
 * Structures with a PkgLength: start one, append its contents, then close it; the
 * length is inserted in front of the contents. Returns a mark for aml_close.
 */
size_t aml_open(struct aml *a, const uint8_t *op, size_t oplen);
void aml_close(struct aml *a, size_t mark);
/* Buffer() with a PkgLength and a BufferSize integer in front of `n` bytes. */
void aml_buffer(struct aml *a, const void *p, size_t n);
