/*
 * hv_xml.c - the domain XML Portico writes, and the few pieces it reads back.
 *
 * We write: a small domain definition from parameters (or the pool's template with
 * placeholders substituted), always carrying the Portico <metadata> element and a random
 * display password so that a listening port is never open before a session sets its own.
 * We read: the Portico metadata element, <graphics> ports and listen addresses from the
 * live XML, and the best domain type from the capabilities. libvirt produces this XML
 * (libxml2 serialised), so a careful attribute scanner is enough; we never parse XML
 * that a user typed, except the template, which goes to libvirt for validation.
 *
 * Nothing here assumes QEMU unless the domain type is kvm or qemu: only then do we add
 * virtio disks, the qxl video device and no balloon.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "common/str.h"
#include "hv_priv.h"

void
hv_xml_escape(struct pt_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            pt_buf_appends(b, "&amp;");
            break;
        case '<':
            pt_buf_appends(b, "&lt;");
            break;
        case '>':
            pt_buf_appends(b, "&gt;");
            break;
        case '"':
            pt_buf_appends(b, "&quot;");
            break;
        case '\'':
            pt_buf_appends(b, "&apos;");
            break;
        default:
            pt_buf_append(b, s, 1);
        }
    }
}

static void
unescape_into(const char *s, size_t len, char *out, size_t n)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;

    for (size_t i = 0; i < len && o + 1 < n;) {
        bool done = false;

        if (s[i] == '&') {
            for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]); e++) {
                size_t el = strlen(ents[e].ent);

                if (i + el <= len && memcmp(s + i, ents[e].ent, el) == 0) {
                    out[o++] = ents[e].c;
                    i += el;
                    done = true;
                    break;
                }
            }
        }
        if (!done)
            out[o++] = s[i++];
    }
    if (n)
        out[o] = '\0';
}

/* Find attribute @name within the start tag [tag, end) and return its value span. */
static const char *
tag_attr(const char *tag, const char *end, const char *name, size_t *len)
{
    size_t nl = strlen(name);

    for (const char *p = tag; p + nl + 2 < end; p++) {
        char q;
        const char *v, *ve;

        if (!isspace((unsigned char)p[0]) || strncmp(p + 1, name, nl) != 0 || p[1 + nl] != '=')
            continue;
        q = p[2 + nl];
        if (q != '\'' && q != '"')
            continue;
        v = p + 3 + nl;
        ve = memchr(v, q, (size_t)(end - v));
        if (!ve)
            return NULL;
        *len = (size_t)(ve - v);
        return v;
    }
    return NULL;
}

/* The end of the start tag beginning at @tag ('>' position), or NULL. */
static const char *
tag_end(const char *tag)
{
    char q = 0;

    for (const char *p = tag; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '>') {
            return p;
        }
    }
    return NULL;
}

/* First start tag named exactly @tag ("<graphics") at or after @from. */
static const char *
find_tag(const char *from, const char *tag)
{
    size_t tl = strlen(tag);

    for (const char *p = strstr(from, tag); p; p = strstr(p + 1, tag)) {
        char c = p[tl];

        if (c == ' ' || c == '\t' || c == '\n' || c == '/' || c == '>')
            return p;
    }
    return NULL;
}

int
hv_xml_attr(const char *xml, const char *tag, const char *name, char *out, size_t n)
{
    const char *t = find_tag(xml, tag), *e, *v;
    size_t len;

    if (!t || !(e = tag_end(t)) || !(v = tag_attr(t, e, name, &len)))
        return -1;
    unescape_into(v, len, out, n);
    return 0;
}

char *
hv_xml_meta_element(const struct hv_meta *m)
{
    struct pt_buf b = PT_BUF_INIT;

    pt_buf_appends(&b, "<" HV_XMLNS_PREFIX ":desktop xmlns:" HV_XMLNS_PREFIX "=\"" HV_XMLNS "\"");
    pt_buf_appends(&b, " pool=\"");
    hv_xml_escape(&b, m->pool);
    pt_buf_appends(&b, "\" id=\"");
    hv_xml_escape(&b, m->desktop_id);
    pt_buf_appends(&b, "\" image=\"");
    hv_xml_escape(&b, m->image_version);
    pt_buf_appends(&b, "\" overlay=\"");
    hv_xml_escape(&b, m->overlay);
    pt_buf_appendf(&b, "\" rdp_port=\"%d\"/>", m->rdp_port);
    return pt_buf_steal(&b);
}

int
hv_xml_meta_parse(const char *xml, struct hv_meta *m)
{
    const char *t = strchr(xml, '<'), *e, *v;
    size_t len;
    char port[16];

    memset(m, 0, sizeof(*m));
    if (!t || !(e = tag_end(t)))
        return -1;
    /* A domain without the id attribute is not ours, whatever the element says. */
    if (!(v = tag_attr(t, e, "id", &len)))
        return -1;
    unescape_into(v, len, m->desktop_id, sizeof(m->desktop_id));
    if ((v = tag_attr(t, e, "pool", &len)))
        unescape_into(v, len, m->pool, sizeof(m->pool));
    if ((v = tag_attr(t, e, "image", &len)))
        unescape_into(v, len, m->image_version, sizeof(m->image_version));
    if ((v = tag_attr(t, e, "overlay", &len)))
        unescape_into(v, len, m->overlay, sizeof(m->overlay));
    if ((v = tag_attr(t, e, "rdp_port", &len))) {
        int64_t p;

        unescape_into(v, len, port, sizeof(port));
        if (pt_parse_i64(port, 0, 65535, &p) == 0)
            m->rdp_port = (int)p;
    }
    return 0;
}

int
hv_xml_graphics(const char *xml, struct hv_graphics *out, int max)
{
    int n = 0;

    for (const char *t = find_tag(xml, "<graphics"); t && n < max;
         t = find_tag(t + 1, "<graphics")) {
        struct hv_graphics *g = &out[n];
        const char *e = tag_end(t), *v, *close;
        size_t len;
        char port[16];
        int64_t p;

        if (!e)
            break;
        memset(g, 0, sizeof(*g));
        if ((v = tag_attr(t, e, "type", &len)))
            unescape_into(v, len, g->type, sizeof(g->type));
        g->port = -1;
        if ((v = tag_attr(t, e, "port", &len))) {
            unescape_into(v, len, port, sizeof(port));
            if (pt_parse_i64(port, -1, 65535, &p) == 0)
                g->port = (int)p;
        }
        if ((v = tag_attr(t, e, "listen", &len)))
            unescape_into(v, len, g->listen, sizeof(g->listen));
        if (e[-1] == '/') {
            close = e + 1;
        } else {
            const char *c = strstr(e, "</graphics>");

            close = c ? c + strlen("</graphics>") : e + 1;
            /* <listen type='address' address='..'/> when there is no listen attribute */
            if (!g->listen[0] && c) {
                const char *l = find_tag(e, "<listen");

                if (l && l < c) {
                    const char *le = tag_end(l);

                    if (le && (v = tag_attr(l, le, "address", &len)))
                        unescape_into(v, len, g->listen, sizeof(g->listen));
                }
            }
        }
        g->start = t;
        g->len = (size_t)(close - t);
        n++;
    }
    return n;
}

/* Copy the start tag [t, e] into @b without attribute @name. */
static void
copy_without_attr(struct pt_buf *b, const char *t, const char *e, const char *name)
{
    size_t len;
    const char *v = tag_attr(t, e, name, &len);

    if (!v) {
        pt_buf_append(b, t, (size_t)(e - t));
        return;
    }
    /* the attribute starts one space before its name */
    const char *as = v - strlen(name) - 3, *ae = v + len + 1;

    pt_buf_append(b, t, (size_t)(as - t));
    pt_buf_append(b, ae, (size_t)(e - ae));
}

char *
hv_xml_graphics_passwd(const struct hv_graphics *g, const char *passwd, int64_t valid_to)
{
    struct pt_buf a = PT_BUF_INIT, b = PT_BUF_INIT;
    const char *t = g->start, *e = tag_end(t);
    char when[32];

    /* [t, e) is the start tag without '>' (and maybe a trailing '/') */
    copy_without_attr(&a, t, e, "passwd");
    copy_without_attr(&b, a.data, a.data + a.len, "passwdValidTo");
    pt_buf_reset(&a);
    pt_buf_append(&a, "<graphics", strlen("<graphics"));
    pt_buf_appends(&a, " passwd='");
    hv_xml_escape(&a, passwd);
    pt_buf_appends(&a, "'");
    if (valid_to > 0) {
        time_t tt = (time_t)valid_to;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        pt_buf_appendf(&a, " passwdValidTo='%s'", when);
    }
    pt_buf_append(&a, b.data + strlen("<graphics"), b.len - strlen("<graphics"));
    pt_buf_append(&a, e, g->len - (size_t)(e - t));
    pt_wipe(b.data, b.len);
    pt_buf_fini(&b);
    return pt_buf_steal(&a);
}

int
hv_xml_best_domain_type(const char *caps, char *out, size_t n)
{
    static const char *const pref[] = {"kvm", "qemu"};
    char want[32];

    for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++) {
        snprintf(want, sizeof(want), "<domain type='%s'", pref[i]);
        if (strstr(caps, want)) {
            pt_strlcpy(out, pref[i], n);
            return 0;
        }
    }
    return hv_xml_attr(caps, "<domain", "type", out, n);
}

static bool
is_qemu_type(const char *t)
{
    return strcmp(t, "kvm") == 0 || strcmp(t, "qemu") == 0;
}

/* VNC authentication keys DES with 8 bytes: libvirt refuses longer VNC passwords. */
static void
append_init_passwd(struct pt_buf *b, const char *type, const char *pw)
{
    char vnc[9];

    pt_strlcpy(vnc, pw, sizeof(vnc));
    pt_buf_appends(b, " passwd='");
    hv_xml_escape(b, strcmp(type, "vnc") == 0 ? vnc : pw);
    pt_buf_appends(b, "'");
    pt_wipe(vnc, sizeof(vnc));
}

static void
append_graphics(struct pt_buf *b, const char *type, const struct hv_xml_params *p, int port)
{
    pt_buf_appendf(b, "    <graphics type='%s'", type);
    if (port > 0)
        pt_buf_appendf(b, " port='%d' autoport='no' listen='127.0.0.1'", port);
    else
        pt_buf_appends(b, " autoport='yes'");
    append_init_passwd(b, type, p->init_passwd);
    if (port > 0)
        pt_buf_appends(b, "><listen type='address' address='127.0.0.1'/></graphics>\n");
    else
        pt_buf_appends(b, "/>\n");
}

static char *
xml_from_params(const struct hv_xml_params *p, const char *meta)
{
    const struct hv_desktop_spec *s = p->spec;
    struct pt_buf b = PT_BUF_INIT;
    bool q = is_qemu_type(p->domain_type);

    pt_buf_appendf(&b, "<domain type='%s'>\n  <name>", p->domain_type);
    hv_xml_escape(&b, s->name);
    pt_buf_appendf(&b, "</name>\n  <metadata>%s</metadata>\n", meta);
    pt_buf_appendf(&b, "  <memory unit='MiB'>%d</memory>\n  <vcpu>%d</vcpu>\n", s->memory_mib,
                   s->vcpus);
    pt_buf_appends(&b, "  <os><type>hvm</type><boot dev='hd'/></os>\n");
    pt_buf_appends(&b, "  <features><acpi/></features>\n");
    pt_buf_appends(&b, "  <on_poweroff>destroy</on_poweroff>\n  <devices>\n");
    pt_buf_appendf(&b, "    <disk type='file' device='disk'><driver %stype='",
                   q ? "name='qemu' " : "");
    hv_xml_escape(&b, p->disk_format);
    pt_buf_appends(&b, "'/><source file='");
    hv_xml_escape(&b, p->disk_path);
    pt_buf_appendf(&b, "'/><target dev='%s'/></disk>\n", q ? "vda' bus='virtio" : "hda");
    if (s->protocols & HV_PROTO_SPICE)
        append_graphics(&b, "spice", p, p->test_port_base > 0 ? p->test_port_base : 0);
    if (s->protocols & HV_PROTO_VNC)
        append_graphics(&b, "vnc", p, p->test_port_base > 0 ? p->test_port_base + 1 : 0);
    if (q && (s->protocols & HV_PROTO_SPICE))
        pt_buf_appends(&b, "    <video><model type='qxl' vram='16384' heads='1'/></video>\n");
    if (q)
        pt_buf_appends(&b, "    <memballoon model='none'/>\n");
    pt_buf_appends(&b, "  </devices>\n</domain>\n");
    return pt_buf_steal(&b);
}

/*
 * Substitute ${NAME} ${DISK} ${DISK_FORMAT} ${MEMORY_MIB} ${VCPUS} ${DOMAIN_TYPE} and
 * ${RDP_PORT} (the host port a user-mode network forwards to the guest's RDP server).
 */
static char *
template_substitute(const struct hv_xml_params *p, struct pt_err *err)
{
    struct pt_buf b = PT_BUF_INIT;
    const char *t = p->spec->template_xml;

    while (*t) {
        const char *ph = strstr(t, "${"), *end;
        char num[16], key[32];
        size_t kl;

        if (!ph) {
            pt_buf_appends(&b, t);
            break;
        }
        pt_buf_append(&b, t, (size_t)(ph - t));
        end = strchr(ph, '}');
        kl = end ? (size_t)(end - ph - 2) : 0;
        if (!end || kl == 0 || kl >= sizeof(key)) {
            pt_buf_fini(&b);
            pt_err_set(err, PT_E_INVALID, "template XML: unterminated or empty ${...} placeholder");
            return NULL;
        }
        memcpy(key, ph + 2, kl);
        key[kl] = '\0';
        if (strcmp(key, "NAME") == 0) {
            hv_xml_escape(&b, p->spec->name);
        } else if (strcmp(key, "DISK") == 0) {
            hv_xml_escape(&b, p->disk_path);
        } else if (strcmp(key, "DISK_FORMAT") == 0) {
            hv_xml_escape(&b, p->disk_format);
        } else if (strcmp(key, "DOMAIN_TYPE") == 0) {
            hv_xml_escape(&b, p->domain_type);
        } else if (strcmp(key, "RDP_PORT") == 0) {
            if (!(p->spec->protocols & HV_PROTO_RDP) || p->spec->rdp_port <= 0) {
                pt_buf_fini(&b);
                pt_err_set(err, PT_E_INVALID,
                           "template XML uses ${RDP_PORT} but the desktop has no RDP port: "
                           "give the pool protocol rdp");
                return NULL;
            }
            snprintf(num, sizeof(num), "%d", p->spec->rdp_port);
            pt_buf_appends(&b, num);
        } else if (strcmp(key, "MEMORY_MIB") == 0 || strcmp(key, "VCPUS") == 0) {
            snprintf(num, sizeof(num), "%d", key[0] == 'M' ? p->spec->memory_mib : p->spec->vcpus);
            pt_buf_appends(&b, num);
        } else {
            pt_buf_fini(&b);
            pt_err_set(err, PT_E_INVALID,
                       "template XML: unknown placeholder ${%s} (known: NAME DISK DISK_FORMAT "
                       "DOMAIN_TYPE MEMORY_MIB VCPUS RDP_PORT)",
                       key);
            return NULL;
        }
        t = end + 1;
    }
    return pt_buf_steal(&b);
}

/* Lock the display: a password on every <graphics> without one, anywhere in @in (a
 * template may put <metadata> before or after <devices>, or have none). Returns new. */
static char *
template_lock_graphics(const struct hv_xml_params *p, const char *in)
{
    struct pt_buf b = PT_BUF_INIT;
    const char *t = in;

    for (const char *g = find_tag(t, "<graphics"); g; g = find_tag(t, "<graphics")) {
        const char *ge = tag_end(g);
        size_t len;

        pt_buf_append(&b, t, (size_t)(g - t));
        pt_buf_appends(&b, "<graphics");
        if (ge && !tag_attr(g, ge, "passwd", &len)) {
            const char *tv = tag_attr(g, ge, "type", &len);

            append_init_passwd(&b, tv && len == 3 && memcmp(tv, "vnc", 3) == 0 ? "vnc" : "",
                               p->init_passwd);
        }
        t = g + strlen("<graphics");
    }
    pt_buf_appends(&b, t);
    return pt_buf_steal(&b);
}

/* Template path: lock every <graphics> that has no password, then put our metadata in. */
static char *
xml_from_template(const struct hv_xml_params *p, const char *meta, struct pt_err *err)
{
    char *sub = template_substitute(p, err), *locked = NULL, *out = NULL;
    struct pt_buf b = PT_BUF_INIT;
    const char *m, *d;

    if (!sub)
        return NULL;
    locked = template_lock_graphics(p, sub);
    m = find_tag(locked, "<metadata");
    if (m) {
        const char *me = tag_end(m);

        if (!me || me[-1] == '/') {
            pt_err_set(err, PT_E_INVALID, "template XML: empty or broken <metadata> element");
            goto out;
        }
        pt_buf_append(&b, locked, (size_t)(me + 1 - locked));
        pt_buf_appends(&b, meta);
        pt_buf_appends(&b, me + 1);
    } else {
        d = strstr(locked, "</domain>");
        if (!d) {
            pt_err_set(err, PT_E_INVALID, "template XML: no </domain> end tag");
            goto out;
        }
        pt_buf_append(&b, locked, (size_t)(d - locked));
        pt_buf_appendf(&b, "<metadata>%s</metadata>", meta);
        pt_buf_appends(&b, d);
    }
    out = pt_buf_steal(&b);
out:
    pt_buf_fini(&b);
    pt_free_secret(locked);
    pt_free_secret(sub);
    return out;
}

char *
hv_xml_domain(const struct hv_xml_params *p, struct pt_err *err)
{
    char *meta = hv_xml_meta_element(p->meta), *xml;

    if (p->spec->template_xml)
        xml = xml_from_template(p, meta, err);
    else
        xml = xml_from_params(p, meta);
    free(meta);
    return xml;
}
