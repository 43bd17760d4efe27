/*
 * keyfile.c - the CURVE key files `povtrack keygen` writes, read for the
 * client library and for povtrackd's [security] curve_key (see
 * povtrack_client_read_keyfile in <povtrack/client.h>).
 *
 * A key file is two INI lines, "public-key = <Z85>" and (in the secret
 * file) "secret-key = <Z85>", after # comments.  It is read here by hand,
 * not with an INI library, so that the client library needs only libzmq
 * and msgpack-c.  What is accepted is what libinih accepted for these
 * files: a UTF-8 byte order mark, CR LF line ends, blank lines, lines
 * starting with ; or # as comments, [section] lines (ignored), "name =
 * value" or "name: value" split at the first = or :, spaces around either,
 * and a comment after the value when a space comes before its ;.  Z85
 * has no ; but has = and :, which is why the split is at the first.
 *
 * The whole file is read into a buffer on the stack and wiped, with every
 * copy of the secret key, before returning.
 */
#include <povtrack/client.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <zmq.h>

/* Larger than any key file keygen writes, many times over. */
#define KEYFILE_MAX 16384

struct keyfile {
    char public_key[POVTRACK_CLIENT_KEY_Z85];
    char secret_key[POVTRACK_CLIENT_KEY_Z85];
    char bad[64]; /* the key of the first bad line; "" for a syntax error */
};

bool povtrack_client_key_valid(const char *z85)
{
    uint8_t bin[32];
    return z85 != NULL && strlen(z85) == POVTRACK_CLIENT_KEY_Z85 - 1 &&
           zmq_z85_decode(bin, z85) != NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* s[0..*n) without the white space at both ends. */
static char *trim(char *s, size_t *n)
{
    while (*n > 0 && is_space(*s)) {
        s++;
        (*n)--;
    }
    while (*n > 0 && is_space(s[*n - 1]))
        (*n)--;
    s[*n] = '\0';
    return s;
}

/* One line (NUL-terminated, no newline): 0, or POVTRACK_EINVALID when it is
 * not one a key file may hold (kf->bad then names its key, if it has
 * one). */
static int key_line(struct keyfile *kf, char *line, size_t n)
{
    char *name, *value, *dst = NULL;
    size_t nlen, vlen, split;

    line = trim(line, &n);
    if (n == 0 || line[0] == ';' || line[0] == '#')
        return 0;
    if (line[0] == '[')
        return line[n - 1] == ']' ? 0 : POVTRACK_EINVALID;
    split = strcspn(line, "=:");
    if (split == n)
        return POVTRACK_EINVALID;
    nlen = split;
    name = trim(line, &nlen);
    value = line + split + 1;
    vlen = n - split - 1;
    for (size_t i = 1; i < vlen; i++) {
        if (value[i] == ';' && is_space(value[i - 1])) {
            vlen = i;
            break;
        }
    }
    value = trim(value, &vlen);
    if (strcmp(name, "public-key") == 0)
        dst = kf->public_key;
    else if (strcmp(name, "secret-key") == 0)
        dst = kf->secret_key;
    if (dst == NULL || !povtrack_client_key_valid(value)) {
        snprintf(kf->bad, sizeof(kf->bad), "%s", name);
        return POVTRACK_EINVALID;
    }
    memcpy(dst, value, POVTRACK_CLIENT_KEY_Z85);
    return 0;
}

/* Parse text[0..len) (a writable copy); the number of the first bad line,
 * or 0. */
static int parse(struct keyfile *kf, char *text, size_t len)
{
    static const char bom[] = "\xef\xbb\xbf";
    size_t at = 0;

    if (len >= 3 && memcmp(text, bom, 3) == 0)
        at = 3;
    for (int line = 1; at < len; line++) {
        char *nl = memchr(text + at, '\n', len - at);
        size_t n = (nl != NULL ? (size_t)(nl - text) : len) - at;
        text[at + n] = '\0';
        if (memchr(text + at, '\0', n) != NULL ||
            key_line(kf, text + at, n) != 0)
            return line;
        at += n + 1;
    }
    return 0;
}

/* The whole file into buf (KEYFILE_MAX + 1 bytes); its size, or after
 * writing why into err a negated errno value, POVTRACK_EINVALID for a file
 * too large to be a key file. */
static ssize_t slurp(const char *path, char *buf, struct stat *st, char *err,
                     size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    ssize_t n;

    if (fd < 0 || fstat(fd, st) != 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: %s", path, povtrack_strerror(rc));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    do {
        n = read(fd, buf + len, KEYFILE_MAX + 1 - len);
        if (n > 0)
            len += (size_t)n;
    } while ((n > 0 && len <= KEYFILE_MAX) || (n < 0 && errno == EINTR));
    int rc = n < 0 ? -errno : len > KEYFILE_MAX ? POVTRACK_EINVALID : 0;
    if (n < 0)
        snprintf(err, errlen, "%s: cannot read: %s", path,
                 povtrack_strerror(rc));
    else if (len > KEYFILE_MAX)
        snprintf(err, errlen, "%s: larger than %d bytes: not a key file", path,
                 KEYFILE_MAX);
    close(fd);
    return rc != 0 ? rc : (ssize_t)len;
}

int povtrack_client_read_keyfile(const char *path,
                                 char public_key[POVTRACK_CLIENT_KEY_Z85],
                                 char secret_key[POVTRACK_CLIENT_KEY_Z85],
                                 char *err, size_t errlen)
{
    char text[KEYFILE_MAX + 1];
    struct keyfile kf;
    struct stat st;
    ssize_t len;
    int line, rc = POVTRACK_EINVALID;

    memset(&kf, 0, sizeof(kf));
    len = slurp(path, text, &st, err, errlen);
    if (len < 0)
        return (int)len;
    line = parse(&kf, text, (size_t)len);
    if (line > 0)
        snprintf(err, errlen,
                 "%s:%d: %s is not a key this file may hold (public-key, "
                 "secret-key: 40 characters of Z85)",
                 path, line, kf.bad[0] ? kf.bad : "the line");
    else if (kf.public_key[0] == '\0')
        snprintf(err, errlen, "%s: no public-key", path);
    else if (secret_key != NULL && kf.secret_key[0] == '\0')
        snprintf(err, errlen,
                 "%s: no secret-key (this is a public key file; use the "
                 ".key file that povtrack keygen wrote beside it)",
                 path);
    else if (secret_key != NULL && (st.st_mode & 077) != 0)
        snprintf(err, errlen,
                 "%s: a secret key file must be readable by its owner only "
                 "(chmod 600 %s)",
                 path, path);
    else {
        memcpy(public_key, kf.public_key, POVTRACK_CLIENT_KEY_Z85);
        if (secret_key != NULL)
            memcpy(secret_key, kf.secret_key, POVTRACK_CLIENT_KEY_Z85);
        rc = POVTRACK_CLIENT_OK;
    }
    /* Neither the file's text nor its parse outlives this call. */
    explicit_bzero(text, (size_t)len);
    explicit_bzero(&kf, sizeof(kf));
    return rc;
}

int povtrack_client_read_server_key(const char *arg,
                                    char server_key[POVTRACK_CLIENT_KEY_Z85],
                                    char *err, size_t errlen)
{
    struct stat st;
    if (arg == NULL) {
        snprintf(err, errlen, "no server key given");
        return POVTRACK_CLIENT_EINVAL;
    }
    if (stat(arg, &st) != 0 && povtrack_client_key_valid(arg)) {
        memcpy(server_key, arg, POVTRACK_CLIENT_KEY_Z85);
        return 0;
    }
    return povtrack_client_read_keyfile(arg, server_key, NULL, err, errlen);
}
