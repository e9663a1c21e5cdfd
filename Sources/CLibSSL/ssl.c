#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "CLibSSL.h"

#if defined(__APPLE__)
#define LIBSSL "libssl.3.dylib"
#else
#define LIBSSL "libssl.so.3"
#endif

// The few values of openssl/ssl.h used (OpenSSL 3 keeps them stable: they are its ABI).
#define SSL_ERROR_SSL 1
#define SSL_ERROR_WANT_READ 2
#define SSL_ERROR_WANT_WRITE 3
#define SSL_ERROR_SYSCALL 5
#define SSL_ERROR_ZERO_RETURN 6
#define SSL_VERIFY_PEER 1
#define SSL_FILETYPE_PEM 1
#define SSL_CTRL_MODE 33
#define SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER 0x2L
#define TLS1_2_VERSION 0x0303
#define X509_V_OK 0

static struct {
    int (*init_ssl)(uint64_t options, const void *settings);
    const void *(*client_method)(void);
    void *(*ctx_new)(const void *method);
    void (*ctx_free)(void *ctx);
    long (*ctx_ctrl)(void *ctx, int command, long larg, void *parg);
    int (*ctx_use_chain_file)(void *ctx, const char *file);
    int (*ctx_use_key_file)(void *ctx, const char *file, int type);
    int (*ctx_check_key)(const void *ctx);
    int (*ctx_load_verify)(void *ctx, const char *file, const char *path);
    void (*ctx_set_verify)(void *ctx, int mode, void *callback);
    void *(*ssl_new)(void *ctx);
    void (*ssl_free)(void *ssl);
    int (*set_fd)(void *ssl, int fd);
    void *(*get0_param)(void *ssl);
    int (*param_set1_ip_asc)(void *param, const char *ip);
    int (*connect)(void *ssl);
    int (*read)(void *ssl, void *buffer, int count);
    int (*write)(void *ssl, const void *buffer, int count);
    int (*get_error)(const void *ssl, int result);
    long (*get_verify_result)(const void *ssl);
    const char *(*verify_error_string)(long code);
    unsigned long (*err_get)(void);
    void (*err_string)(unsigned long code, char *buffer, size_t size);
    void (*err_clear)(void);
    void *(*d2i_pkcs12_fp)(FILE *file, void **out);
    int (*pkcs12_parse)(void *p12, const char *password, void **key, void **certificate, void **ca);
    void (*pkcs12_free)(void *p12);
    int (*pem_write_x509)(FILE *file, void *certificate);
    int (*pem_write_key)(FILE *file, void *key, const void *cipher, unsigned char *kstr, int klen, void *callback, void *u);
    void (*x509_free)(void *certificate);
    void (*pkey_free)(void *key);
    void (*sk_pop_free)(void *stack, void (*free_function)(void *));
} ssl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];

static int resolve(void *library, void **function, const char *name) {
    *function = dlsym(library, name);
    if (*function == NULL) snprintf(load_error, sizeof load_error, "%s: no %s", LIBSSL, name);
    return *function != NULL;
}

static void load(void) {
    void *library = dlopen(LIBSSL, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *message = dlerror();
        snprintf(load_error, sizeof load_error, "%s", message ? message : "cannot load " LIBSSL);
        return;
    }
    // libcrypto's functions are found through libssl's handle: it depends on libcrypto.
    if (!resolve(library, (void **)&ssl.init_ssl, "OPENSSL_init_ssl") ||
        !resolve(library, (void **)&ssl.client_method, "TLS_client_method") ||
        !resolve(library, (void **)&ssl.ctx_new, "SSL_CTX_new") ||
        !resolve(library, (void **)&ssl.ctx_free, "SSL_CTX_free") ||
        !resolve(library, (void **)&ssl.ctx_ctrl, "SSL_CTX_ctrl") ||
        !resolve(library, (void **)&ssl.ctx_use_chain_file, "SSL_CTX_use_certificate_chain_file") ||
        !resolve(library, (void **)&ssl.ctx_use_key_file, "SSL_CTX_use_PrivateKey_file") ||
        !resolve(library, (void **)&ssl.ctx_check_key, "SSL_CTX_check_private_key") ||
        !resolve(library, (void **)&ssl.ctx_load_verify, "SSL_CTX_load_verify_locations") ||
        !resolve(library, (void **)&ssl.ctx_set_verify, "SSL_CTX_set_verify") ||
        !resolve(library, (void **)&ssl.ssl_new, "SSL_new") ||
        !resolve(library, (void **)&ssl.ssl_free, "SSL_free") ||
        !resolve(library, (void **)&ssl.set_fd, "SSL_set_fd") ||
        !resolve(library, (void **)&ssl.get0_param, "SSL_get0_param") ||
        !resolve(library, (void **)&ssl.param_set1_ip_asc, "X509_VERIFY_PARAM_set1_ip_asc") ||
        !resolve(library, (void **)&ssl.connect, "SSL_connect") ||
        !resolve(library, (void **)&ssl.read, "SSL_read") ||
        !resolve(library, (void **)&ssl.write, "SSL_write") ||
        !resolve(library, (void **)&ssl.get_error, "SSL_get_error") ||
        !resolve(library, (void **)&ssl.get_verify_result, "SSL_get_verify_result") ||
        !resolve(library, (void **)&ssl.verify_error_string, "X509_verify_cert_error_string") ||
        !resolve(library, (void **)&ssl.err_get, "ERR_get_error") ||
        !resolve(library, (void **)&ssl.err_string, "ERR_error_string_n") ||
        !resolve(library, (void **)&ssl.err_clear, "ERR_clear_error") ||
        !resolve(library, (void **)&ssl.d2i_pkcs12_fp, "d2i_PKCS12_fp") ||
        !resolve(library, (void **)&ssl.pkcs12_parse, "PKCS12_parse") ||
        !resolve(library, (void **)&ssl.pkcs12_free, "PKCS12_free") ||
        !resolve(library, (void **)&ssl.pem_write_x509, "PEM_write_X509") ||
        !resolve(library, (void **)&ssl.pem_write_key, "PEM_write_PrivateKey") ||
        !resolve(library, (void **)&ssl.x509_free, "X509_free") ||
        !resolve(library, (void **)&ssl.pkey_free, "EVP_PKEY_free") ||
        !resolve(library, (void **)&ssl.sk_pop_free, "OPENSSL_sk_pop_free")) {
        return;
    }
    if (ssl.init_ssl(0, NULL) != 1) snprintf(load_error, sizeof load_error, "OPENSSL_init_ssl failed");
}

const char *flinklet_ssl_load(void) {
    pthread_once(&load_once, load);
    return load_error[0] ? load_error : NULL;
}

/// `what: <OpenSSL's first queued error>`, or `what` alone; clears the queue.
static void fail(char *error, size_t size, const char *what) {
    unsigned long code = ssl.err_get();
    if (code != 0) {
        char text[256];
        ssl.err_string(code, text, sizeof text);
        snprintf(error, size, "%s: %s", what, text);
    } else {
        snprintf(error, size, "%s", what);
    }
    ssl.err_clear();
}

void *flinklet_ssl_client_context(const char *certificate_chain_pem, const char *private_key_pem, const char *ca_pem,
                                  char *error, size_t error_size) {
    ssl.err_clear();
    void *context = ssl.ctx_new(ssl.client_method());
    if (context == NULL) {
        fail(error, error_size, "SSL_CTX_new");
        return NULL;
    }
    char what[1024];
    ssl.ctx_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    // A write retried after WANT_WRITE may come from another copy of the same bytes.
    ssl.ctx_ctrl(context, SSL_CTRL_MODE, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
    if (ssl.ctx_use_chain_file(context, certificate_chain_pem) != 1) {
        snprintf(what, sizeof what, "cannot load the certificate %s", certificate_chain_pem);
        goto failed;
    }
    if (ssl.ctx_use_key_file(context, private_key_pem, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof what, "cannot load the private key %s", private_key_pem);
        goto failed;
    }
    if (ssl.ctx_check_key(context) != 1) {
        snprintf(what, sizeof what, "the private key %s does not match the certificate %s", private_key_pem, certificate_chain_pem);
        goto failed;
    }
    if (ssl.ctx_load_verify(context, ca_pem, NULL) != 1) {
        snprintf(what, sizeof what, "cannot load the CA certificate %s", ca_pem);
        goto failed;
    }
    ssl.ctx_set_verify(context, SSL_VERIFY_PEER, NULL);
    return context;
failed:
    fail(error, error_size, what);
    ssl.ctx_free(context);
    return NULL;
}

void flinklet_ssl_context_free(void *context) { ssl.ctx_free(context); }

void *flinklet_ssl_session(void *context, int fd, const char *peer_ip, char *error, size_t error_size) {
    ssl.err_clear();
    void *session = ssl.ssl_new(context);
    if (session == NULL) {
        fail(error, error_size, "SSL_new");
        return NULL;
    }
    if (ssl.set_fd(session, fd) != 1 || ssl.param_set1_ip_asc(ssl.get0_param(session), peer_ip) != 1) {
        fail(error, error_size, "cannot set up the TLS session");
        ssl.ssl_free(session);
        return NULL;
    }
    return session;
}

void flinklet_ssl_session_free(void *session) { ssl.ssl_free(session); }

/// What a failed or incomplete step means, with the reason in `error` for failures.
static int outcome(void *session, int result, const char *what, char *error, size_t error_size) {
    int code = ssl.get_error(session, result);
    switch (code) {
    case SSL_ERROR_WANT_READ: return FLINKLET_SSL_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return FLINKLET_SSL_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return FLINKLET_SSL_DONE;
    case SSL_ERROR_SYSCALL:
        if (ssl.err_get() == 0) {
            if (errno == 0 || result == 0) {
                snprintf(error, error_size, "%s: the peer closed the connection", what);
                return FLINKLET_SSL_EOF;
            }
            snprintf(error, error_size, "%s: %s", what, strerror(errno));
            return FLINKLET_SSL_FAILED;
        }
        fail(error, error_size, what);
        return FLINKLET_SSL_FAILED;
    default: {
        long verify = ssl.get_verify_result(session);
        if (verify != X509_V_OK) {
            snprintf(error, error_size, "%s: the server's certificate is not trusted: %s", what, ssl.verify_error_string(verify));
            ssl.err_clear();
        } else {
            fail(error, error_size, what);
        }
        return FLINKLET_SSL_FAILED;
    }
    }
}

int flinklet_ssl_handshake(void *session, char *error, size_t error_size) {
    ssl.err_clear();
    errno = 0;
    int result = ssl.connect(session);
    if (result == 1) return FLINKLET_SSL_DONE;
    int code = outcome(session, result, "TLS handshake", error, error_size);
    // A handshake cut short is a failure, never "done".
    return code == FLINKLET_SSL_DONE || code == FLINKLET_SSL_EOF ? FLINKLET_SSL_FAILED : code;
}

int flinklet_ssl_read(void *session, void *buffer, int count, char *error, size_t error_size) {
    ssl.err_clear();
    errno = 0;
    int result = ssl.read(session, buffer, count);
    if (result > 0) return result;
    return outcome(session, result, "TLS read", error, error_size);
}

int flinklet_ssl_write(void *session, const void *buffer, int count, char *error, size_t error_size) {
    ssl.err_clear();
    errno = 0;
    int result = ssl.write(session, buffer, count);
    if (result > 0) return result;
    int code = outcome(session, result, "TLS write", error, error_size);
    return code == FLINKLET_SSL_DONE || code == FLINKLET_SSL_EOF ? FLINKLET_SSL_FAILED : code;
}

/// Opens `path`'s temporary sibling, new, mode 0600, for writing.
static FILE *create_private(const char *path, char *temporary, size_t size) {
    snprintf(temporary, size, "%s.%d.tmp", path, (int)getpid());
    unlink(temporary);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return NULL;
    FILE *file = fdopen(fd, "w");
    if (file == NULL) close(fd);
    return file;
}

/// Flushes, syncs and closes `file`, then renames `temporary` to `path`. 0 or -1.
static int finish_private(FILE *file, const char *temporary, const char *path) {
    int ok = fflush(file) == 0 && fsync(fileno(file)) == 0;
    ok = fclose(file) == 0 && ok;
    if (!ok || rename(temporary, path) != 0) {
        unlink(temporary);
        return -1;
    }
    return 0;
}

int flinklet_ssl_pkcs12_to_pem(const char *pkcs12, const char *password, const char *certificate_pem,
                               const char *private_key_pem, char *error, size_t error_size) {
    ssl.err_clear();
    FILE *input = fopen(pkcs12, "rbe");
    if (input == NULL) {
        snprintf(error, error_size, "cannot open %s: %s", pkcs12, strerror(errno));
        return -1;
    }
    void *p12 = ssl.d2i_pkcs12_fp(input, NULL);
    fclose(input);
    if (p12 == NULL) {
        fail(error, error_size, "not a PKCS#12 keystore");
        return -1;
    }
    void *key = NULL, *certificate = NULL, *ca = NULL;
    int parsed = ssl.pkcs12_parse(p12, password, &key, &certificate, &ca);
    ssl.pkcs12_free(p12);
    if (parsed != 1 || key == NULL || certificate == NULL) {
        fail(error, error_size, "cannot read the keystore's key and certificate");
        if (key) ssl.pkey_free(key);
        if (certificate) ssl.x509_free(certificate);
        if (ca) ssl.sk_pop_free(ca, ssl.x509_free);
        return -1;
    }
    if (ca) ssl.sk_pop_free(ca, ssl.x509_free);
    int result = -1;
    char temporary[4096];
    FILE *output = create_private(certificate_pem, temporary, sizeof temporary);
    if (output == NULL) {
        snprintf(error, error_size, "cannot create %s: %s", temporary, strerror(errno));
    } else if (ssl.pem_write_x509(output, certificate) != 1) {
        fclose(output);
        unlink(temporary);
        fail(error, error_size, "cannot write the certificate");
    } else if (finish_private(output, temporary, certificate_pem) != 0) {
        snprintf(error, error_size, "cannot write %s: %s", certificate_pem, strerror(errno));
    } else if ((output = create_private(private_key_pem, temporary, sizeof temporary)) == NULL) {
        snprintf(error, error_size, "cannot create %s: %s", temporary, strerror(errno));
    } else if (ssl.pem_write_key(output, key, NULL, NULL, 0, NULL, NULL) != 1) {
        fclose(output);
        unlink(temporary);
        fail(error, error_size, "cannot write the private key");
    } else if (finish_private(output, temporary, private_key_pem) != 0) {
        snprintf(error, error_size, "cannot write %s: %s", private_key_pem, strerror(errno));
    } else {
        result = 0;
    }
    ssl.pkey_free(key);
    ssl.x509_free(certificate);
    return result;
}
