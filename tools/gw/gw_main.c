/*
 * gw_main.c - povtrack-gw: the web gateway to povtrackd.  Options, the
 * password and token helpers, signals; the rest is gw_http.c's.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "gw_auth.h"
#include "gw_config.h"
#include "gw_http.h"

/* The OpenAPI document, openapi.json, compiled in (gw_openapi.c is made
 * from it by the build). */
extern const char gw_openapi_json[];
extern const size_t gw_openapi_json_len;

#define EXIT_USAGE 2
#define EXIT_CONFIG 78 /* EX_CONFIG */
#define CONFIG_DEFAULT "/etc/povtrack/gw.ini"

static const char usage[] =
    "Usage: povtrack-gw [--config FILE]\n"
    "       povtrack-gw --check [--config FILE]\n"
    "       povtrack-gw --hash-password\n"
    "       povtrack-gw --new-token NAME\n"
    "\n"
    "The web gateway to povtrackd: a JSON API under /api/v1/ (described by\n"
    "/api/v1/openapi.json), the dashboard's files, and /metrics for\n"
    "Prometheus.  It acts for each user and API token with the publisher key\n"
    "its configuration gives it, so povtrackd stores and checks the person\n"
    "or agency, never the gateway.\n"
    "\n"
    "  -c, --config FILE    the configuration (default " CONFIG_DEFAULT ")\n"
    "      --check          read the configuration and the keys, and exit\n"
    "      --hash-password  read a password on standard input, print the\n"
    "                       Argon2id hash to put in [user.NAME] password =\n"
    "      --new-token NAME print a new API token (give it to the client;\n"
    "                       it is not kept) and the [token.NAME] section\n"
    "                       holding its hash\n"
    "  -h, --help           this text\n"
    "  -V, --version        the version\n"
    "\n"
    "Exit status: 0 stopped by SIGTERM or SIGINT (or --check passed), 1 it\n"
    "could not serve (the address is in use ...), 2 usage, 78 an error in\n"
    "the configuration (the file, section and key are named).\n";

/* The static files' directory of an install or a build tree:
 * ../share/povtrack/www beside the executable. */
static void www_default(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(out, cap, "%s", GW_WWW_FROM_BIN);
        return;
    }
    exe[n] = '\0';
    snprintf(out, cap, "%s/%s", dirname(exe), GW_WWW_FROM_BIN);
}

static int hash_password(void)
{
    char pw[1024], hash[GW_PWHASH_MAX];
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;

    if (tty) {
        fprintf(stderr, "password: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *line = fgets(pw, sizeof pw, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (line == NULL || (pw[strcspn(pw, "\r\n")] = '\0', pw[0] == '\0')) {
        fprintf(stderr, "povtrack-gw: no password on standard input\n");
        return EXIT_USAGE;
    }
    int rc = gw_auth_hash_password(pw, hash);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0) {
        fprintf(stderr, "povtrack-gw: cannot hash: out of memory\n");
        return EXIT_FAILURE;
    }
    printf("%s\n", hash);
    return 0;
}

static int new_token(const char *name)
{
    char token[GW_TOKEN_LEN + 1], hash[2 * GW_TOKEN_HASH_BYTES + 1];
    if (gw_auth_new_token(token, hash) != 0) {
        fprintf(stderr, "povtrack-gw: no randomness\n");
        return EXIT_FAILURE;
    }
    printf("token: %s\n\n", token);
    printf("; give the token to the client, it is shown once; add to the "
           "configuration:\n[token.%s]\ntoken_hash = %s\nkey = %s.key"
           "          ; the publisher key it acts with\n",
           name, hash, name);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"hash-password", no_argument, NULL, 'p'},
        {"new-token", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0}};
    const char *config = CONFIG_DEFAULT;
    bool check = false;
    int c;

    while ((c = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'p':
            return hash_password();
        case 't':
            return new_token(optarg);
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'V':
            printf("povtrack-gw %s\n", POVTRACK_VERSION);
            return 0;
        default:
            fprintf(stderr, "Try 'povtrack-gw --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr,
                "povtrack-gw: unexpected argument \"%s\"\n"
                "Try 'povtrack-gw --help'.\n",
                argv[optind]);
        return EXIT_USAGE;
    }

    struct gw_config cfg;
    char www[PATH_MAX], err[2048];
    www_default(www, sizeof www);
    int rc = gw_config_load(config, www, &cfg, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "povtrack-gw: %s\n", err);
        return EXIT_CONFIG;
    }
    if (check) {
        printf("%s: OK (%zu users and tokens, listen %s%s)\n", config, cfg.nids,
               cfg.listen,
               cfg.tls_cert[0]        ? ", TLS"
               : cfg.behind_tls_proxy ? ", behind a TLS proxy"
                                      : ", plain HTTP on loopback");
        gw_config_free(&cfg);
        return 0;
    }

    struct gw gw = {.cfg = &cfg,
                    .log = {cfg.log_level, "http", 0, "povtrack-gw"},
                    .openapi = gw_openapi_json,
                    .openapi_len = gw_openapi_json_len};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    /* Every thread inherits the mask: the signals wait for sigwait below. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = gw_auth_open(&cfg, &gw.auth);
    if (rc == 0)
        rc = gw_sessions_open(cfg.session_hours, &gw.sessions);
    if (rc == 0)
        rc = gw_daemon_open(&cfg, &gw.daemon);
    if (rc == 0)
        rc = gw_metrics_open(&gw.metrics);
    if (rc != 0)
        snprintf(err, sizeof err, "out of memory");
    else
        rc = gw_http_start(&gw, err, sizeof err);
    if (rc == 0) {
        pt_logf(&gw.log, PT_LOG_INFO,
                "povtrack-gw %s ready: %s://%s/ (%zu users and tokens), "
                "povtrackd at %s, static files from %s%s",
                POVTRACK_VERSION, cfg.tls_cert[0] ? "https" : "http",
                cfg.listen, cfg.nids, cfg.query, cfg.www_dir,
                cfg.loopback && !cfg.tls_cert[0] && !cfg.behind_tls_proxy
                    ? "; plain HTTP on loopback: cookies without Secure"
                    : "");
        for (;;) {
            int sig;
            if (sigwait(&set, &sig) != 0 || sig != SIGHUP)
                break;
            pt_logf(&gw.log, PT_LOG_INFO,
                    "SIGHUP: nothing to reload; restart to read the "
                    "configuration again");
        }
        pt_logf(&gw.log, PT_LOG_INFO, "stopping");
    } else {
        pt_logf(&gw.log, PT_LOG_ERROR, "%s", err);
    }
    gw_http_stop(&gw);
    gw_metrics_close(gw.metrics);
    gw_daemon_close(gw.daemon);
    gw_sessions_close(gw.sessions);
    gw_auth_close(gw.auth);
    gw_config_free(&cfg);
    return rc == 0 ? 0 : rc == POVTRACK_ECONFIG ? EXIT_CONFIG : EXIT_FAILURE;
}
