#ifndef FLINKLET_CLIBCURL_H
#define FLINKLET_CLIBCURL_H

// libcurl's easy interface, loaded with dlopen on first use instead of linked. Linking it (as
// Foundation's URLSession does, through FoundationNetworking) maps libcurl and the TLS,
// Kerberos, LDAP and SSH libraries it needs into every flinklet process at start: about 6 MiB
// resident, for an operator that downloads a jar rarely if ever. Thin typed wrappers for the
// variadic calls, which Swift cannot make; no policy lives here.

#include <stddef.h>
#include <stdint.h>

// The few values of curl/curl.h used (libcurl keeps them stable: they are its ABI).
#define FLINKLET_CURLE_OK 0
#define FLINKLET_CURLE_UNSUPPORTED_PROTOCOL 1
#define FLINKLET_CURLE_FAILED_INIT 2
#define FLINKLET_CURLE_COULDNT_RESOLVE_PROXY 5
#define FLINKLET_CURLE_COULDNT_RESOLVE_HOST 6
#define FLINKLET_CURLE_COULDNT_CONNECT 7
#define FLINKLET_CURLE_PARTIAL_FILE 18
#define FLINKLET_CURLE_HTTP_RETURNED_ERROR 22
#define FLINKLET_CURLE_WRITE_ERROR 23
#define FLINKLET_CURLE_OPERATION_TIMEDOUT 28
#define FLINKLET_CURLE_SSL_CONNECT_ERROR 35
#define FLINKLET_CURLE_ABORTED_BY_CALLBACK 42
#define FLINKLET_CURLE_TOO_MANY_REDIRECTS 47
#define FLINKLET_CURLE_GOT_NOTHING 52
#define FLINKLET_CURLE_SEND_ERROR 55
#define FLINKLET_CURLE_RECV_ERROR 56
#define FLINKLET_CURLE_SSL_CERTPROBLEM 58
#define FLINKLET_CURLE_SSL_CIPHER 59
#define FLINKLET_CURLE_PEER_FAILED_VERIFICATION 60
#define FLINKLET_CURLE_FILESIZE_EXCEEDED 63
#define FLINKLET_CURLE_SSL_CACERT_BADFILE 77
#define FLINKLET_CURLE_SSL_ISSUER_ERROR 83

#define FLINKLET_CURLOPT_WRITEDATA 10001
#define FLINKLET_CURLOPT_WRITEFUNCTION 20011
#define FLINKLET_CURLOPT_URL 10002
#define FLINKLET_CURLOPT_USERAGENT 10018
#define FLINKLET_CURLOPT_NOPROGRESS 43
#define FLINKLET_CURLOPT_FAILONERROR 45
#define FLINKLET_CURLOPT_FOLLOWLOCATION 52
#define FLINKLET_CURLOPT_XFERINFODATA 10057
#define FLINKLET_CURLOPT_XFERINFOFUNCTION 20219
#define FLINKLET_CURLOPT_MAXREDIRS 68
#define FLINKLET_CURLOPT_NOSIGNAL 99
#define FLINKLET_CURLOPT_TIMEOUT_MS 155
#define FLINKLET_CURLOPT_PROTOCOLS_STR 10318
#define FLINKLET_CURLOPT_REDIR_PROTOCOLS_STR 10319
#define FLINKLET_CURLOPT_MAXFILESIZE_LARGE 30117

#define FLINKLET_CURLINFO_RESPONSE_CODE 0x200002
#define FLINKLET_CURLINFO_CONTENT_LENGTH_DOWNLOAD_T 0x60000F

/// CURLOPT_WRITEFUNCTION: returns `size * count` to go on, anything else to fail the transfer.
typedef size_t (*flinklet_curl_write_function)(char *data, size_t size, size_t count, void *context);
/// CURLOPT_XFERINFOFUNCTION (curl_off_t is 64 bits): returns non-zero to abort the transfer.
typedef int (*flinklet_curl_xferinfo_function)(void *context, int64_t download_total, int64_t downloaded,
                                               int64_t upload_total, int64_t uploaded);

/// Loads libcurl and runs curl_global_init, once per process (thread-safe). Returns NULL when
/// libcurl is usable, else why not (dlopen's or dlsym's message).
const char *flinklet_curl_load(void);

// Each of these requires a successful flinklet_curl_load().
void *flinklet_curl_easy_init(void);
int flinklet_curl_easy_setopt_long(void *handle, int option, long value);
int flinklet_curl_easy_setopt_string(void *handle, int option, const char *value);
/// For the options that take a curl_off_t (64 bits).
int flinklet_curl_easy_setopt_off_t(void *handle, int option, int64_t value);
int flinklet_curl_easy_setopt_pointer(void *handle, int option, void *value);
int flinklet_curl_easy_setopt_write_function(void *handle, flinklet_curl_write_function function);
int flinklet_curl_easy_setopt_xferinfo_function(void *handle, flinklet_curl_xferinfo_function function);
int flinklet_curl_easy_perform(void *handle);
int flinklet_curl_easy_getinfo_long(void *handle, int info, long *value);
int flinklet_curl_easy_getinfo_off_t(void *handle, int info, int64_t *value);
void flinklet_curl_easy_cleanup(void *handle);
const char *flinklet_curl_easy_strerror(int code);

#endif
