/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libvmdesk's GError domain. */
#include "vmd-error.h"

G_DEFINE_QUARK(vmd-error-quark, vmd_error)
