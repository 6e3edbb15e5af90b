/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Loading the display back-ends' modules (see display/module.h). */
#include "display/module.h"

#include <dlfcn.h>
#include <glib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

G_LOCK_DEFINE_STATIC(modules);

/* The directory of the running program: in a build tree, the modules sit beside it. */
static char *program_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return g_path_get_dirname(buf);
}

static const void *load(const char *name, size_t size, const char *what, char **err)
{
    g_autofree char *file = g_strdup_printf("vmdesk-display-%s.so", name);
    g_autofree char *here = program_dir();
    const char *dirs[] = {here, HV_MODULE_DIR};
    g_autofree char *path = NULL;
    for (unsigned i = 0; i < G_N_ELEMENTS(dirs) && !path; i++) {
        if (!dirs[i])
            continue;
        char *p = g_build_filename(dirs[i], file, NULL);
        if (access(p, F_OK) == 0)
            path = p;
        else
            g_free(p);
    }
    if (!path) {
        *err = g_strdup_printf("%s needs the module %s, which is in neither %s nor %s: "
                               "reinstall vmdesk", what, file, here ? here : "(unknown)",
                               HV_MODULE_DIR);
        return NULL;
    }
    /* RTLD_NOW: a module that does not match this program fails here, not in the middle
       of serving a client. Modules stay loaded: their servers may leave threads behind. */
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        *err = g_strdup_printf("%s: cannot load %s: %s", what, path, dlerror());
        return NULL;
    }
    g_autofree char *symbol = g_strdup_printf("hv_module_%s", name);
    const struct hv_module_header *h = dlsym(handle, symbol);
    if (!h) {
        *err = g_strdup_printf("%s: %s has no table %s: not a vmdesk display module", what,
                               path, symbol);
        dlclose(handle);
        return NULL;
    }
    if (!h->version || strcmp(h->version, VMDESK_VERSION) || h->size != size) {
        *err = g_strdup_printf("%s: %s comes from vmdesk %s, this is vmdesk %s: reinstall "
                               "vmdesk", what, path, h->version ? h->version : "(unknown)",
                               VMDESK_VERSION);
        dlclose(handle);
        return NULL;
    }
    return h;
}

static const void *load_once(const void **cache, const char *name, size_t size,
                             const char *what, char **err)
{
    G_LOCK(modules);
    if (!*cache)
        *cache = load(name, size, what, err);
    const void *m = *cache;
    G_UNLOCK(modules);
    return m;
}

const struct hv_vnc_module *hv_vnc_module_load(const char *what, char **err)
{
    static const void *cache;
    return load_once(&cache, "vnc", sizeof(struct hv_vnc_module), what, err);
}

const struct hv_spice_module *hv_spice_module_load(const char *what, char **err)
{
    static const void *cache;
    return load_once(&cache, "spice", sizeof(struct hv_spice_module), what, err);
}

const struct hv_sdl_module *hv_sdl_module_load(const char *what, char **err)
{
    static const void *cache;
    return load_once(&cache, "sdl", sizeof(struct hv_sdl_module), what, err);
}
