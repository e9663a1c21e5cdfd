#ifndef FLINKLET_CLIBSSL_H
#define FLINKLET_CLIBSSL_H

// A TLS client over OpenSSL 3 (libssl.so.3), loaded with dlopen on first use instead of
// linked, as CLibCurl is: only an operator that talks to a TLS-protected Flink cluster maps
// libssl and libcrypto. Non-blocking: each call does what it can and says what it waits for,
// so the caller polls the socket and never blocks a thread. Each function gathers OpenSSL's
// error text in the same call (its error queue is per thread). No policy lives here beyond
// what a loopback client of a private CA needs: TLS 1.2 or newer, the peer verified against
// the given CA file, and its certificate checked for the IP address 127.0.0.1.

#include <stddef.h>

/// Loads libssl and initializes it, once per process (thread-safe). NULL when usable, else why not.
const char *flinklet_ssl_load(void);

/// A client context presenting `certificate_chain_pem` with `private_key_pem` and trusting only
/// the certificates in `ca_pem`. NULL on failure, with the reason in `error`.
void *flinklet_ssl_client_context(const char *certificate_chain_pem, const char *private_key_pem, const char *ca_pem,
                                  char *error, size_t error_size);
void flinklet_ssl_context_free(void *context);

/// A session on the connected socket `fd` (not owned), expecting a peer certificate for
/// `peer_ip`. NULL on failure.
void *flinklet_ssl_session(void *context, int fd, const char *peer_ip, char *error, size_t error_size);
void flinklet_ssl_session_free(void *session);

// Results of the steps below: bytes moved (> 0), or one of these.
#define FLINKLET_SSL_DONE 0          // handshake complete; for read: the peer closed the TLS session
#define FLINKLET_SSL_WANT_READ (-1)  // wait until the socket is readable, then call again
#define FLINKLET_SSL_WANT_WRITE (-2) // wait until the socket is writable, then call again
#define FLINKLET_SSL_FAILED (-3)     // the reason is in `error`
#define FLINKLET_SSL_EOF (-4)        // the connection ended without a TLS close (read only)

int flinklet_ssl_handshake(void *session, char *error, size_t error_size);
int flinklet_ssl_read(void *session, void *buffer, int count, char *error, size_t error_size);
int flinklet_ssl_write(void *session, const void *buffer, int count, char *error, size_t error_size);

/// Reads a PKCS#12 file (`keytool`'s keystore) with `password` and writes its certificate to
/// `certificate_pem` and its private key to `private_key_pem`, each a new file of mode 0600
/// (an existing one is replaced). 0 on success, else -1 with the reason in `error`.
int flinklet_ssl_pkcs12_to_pem(const char *pkcs12, const char *password, const char *certificate_pem,
                               const char *private_key_pem, char *error, size_t error_size);

#endif
