#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "CLibCurl.h"

#if defined(__APPLE__)
#define LIBCURL "libcurl.4.dylib"
#else
#define LIBCURL "libcurl.so.4"
#endif

#define FLINKLET_CURL_GLOBAL_DEFAULT 3L

static struct {
    int (*global_init)(long flags);
    void *(*easy_init)(void);
    int (*easy_setopt)(void *handle, int option, ...);
    int (*easy_perform)(void *handle);
    int (*easy_getinfo)(void *handle, int info, ...);
    void (*easy_cleanup)(void *handle);
    const char *(*easy_strerror)(int code);
} curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];

static int resolve(void *library, void **function, const char *name) {
    *function = dlsym(library, name);
    if (*function == NULL) snprintf(load_error, sizeof load_error, "%s: no %s", LIBCURL, name);
    return *function != NULL;
}

static void load(void) {
    void *library = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *message = dlerror();
        snprintf(load_error, sizeof load_error, "%s", message ? message : "cannot load " LIBCURL);
        return;
    }
    if (!resolve(library, (void **)&curl.global_init, "curl_global_init") ||
        !resolve(library, (void **)&curl.easy_init, "curl_easy_init") ||
        !resolve(library, (void **)&curl.easy_setopt, "curl_easy_setopt") ||
        !resolve(library, (void **)&curl.easy_perform, "curl_easy_perform") ||
        !resolve(library, (void **)&curl.easy_getinfo, "curl_easy_getinfo") ||
        !resolve(library, (void **)&curl.easy_cleanup, "curl_easy_cleanup") ||
        !resolve(library, (void **)&curl.easy_strerror, "curl_easy_strerror")) {
        return;
    }
    int code = curl.global_init(FLINKLET_CURL_GLOBAL_DEFAULT);
    if (code != FLINKLET_CURLE_OK) {
        snprintf(load_error, sizeof load_error, "curl_global_init: %s", curl.easy_strerror(code));
    }
}

const char *flinklet_curl_load(void) {
    pthread_once(&load_once, load);
    return load_error[0] ? load_error : NULL;
}

void *flinklet_curl_easy_init(void) { return curl.easy_init(); }

int flinklet_curl_easy_setopt_long(void *handle, int option, long value) {
    return curl.easy_setopt(handle, option, value);
}

int flinklet_curl_easy_setopt_string(void *handle, int option, const char *value) {
    return curl.easy_setopt(handle, option, value);
}

int flinklet_curl_easy_setopt_off_t(void *handle, int option, int64_t value) {
    return curl.easy_setopt(handle, option, value);
}

int flinklet_curl_easy_setopt_pointer(void *handle, int option, void *value) {
    return curl.easy_setopt(handle, option, value);
}

int flinklet_curl_easy_setopt_write_function(void *handle, flinklet_curl_write_function function) {
    return curl.easy_setopt(handle, FLINKLET_CURLOPT_WRITEFUNCTION, function);
}

int flinklet_curl_easy_setopt_xferinfo_function(void *handle, flinklet_curl_xferinfo_function function) {
    return curl.easy_setopt(handle, FLINKLET_CURLOPT_XFERINFOFUNCTION, function);
}

int flinklet_curl_easy_perform(void *handle) { return curl.easy_perform(handle); }

int flinklet_curl_easy_getinfo_long(void *handle, int info, long *value) {
    return curl.easy_getinfo(handle, info, value);
}

int flinklet_curl_easy_getinfo_off_t(void *handle, int info, int64_t *value) {
    return curl.easy_getinfo(handle, info, value);
}

void flinklet_curl_easy_cleanup(void *handle) { curl.easy_cleanup(handle); }

const char *flinklet_curl_easy_strerror(int code) { return curl.easy_strerror(code); }
