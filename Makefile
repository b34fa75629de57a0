# Build, run and test ngx_http_apim_module.so.
#
#   make                 build against Debian's nginx-dev (/usr/share/nginx/src)
#   make NGINX_SRC=dir   build against an upstream nginx source tree
#   make deps            install every Debian package needed (idempotent)
#   make run             build, then serve conf.d/demo.conf on 127.0.0.1:8080
#   make test            build, then run the Test::Nginx suites in t/
#   make bench           compare our cost per request with stock nginx

DEBIAN_NGINX_SRC = /usr/share/nginx/src
NGINX_SRC       ?= $(DEBIAN_NGINX_SRC)
NGINX_BIN       ?= /usr/sbin/nginx

ifeq ($(NGINX_SRC),$(DEBIAN_NGINX_SRC))
BUILD           ?= $(CURDIR)/build
else
BUILD           ?= $(CURDIR)/build-upstream
endif

MODULE           = $(BUILD)/ngx_http_apim_module.so
APIMCTL          = tools/apimctl

SRCS            := $(wildcard *.c src/*.c src/*.h)
APIMCTL_SRCS     = tools/apimctl.c src/ngx_apim_store.c src/ngx_apim_key.c \
                   src/ngx_apim_record.c
APIMCTL_HDRS     = src/ngx_apim_store.h src/ngx_apim_key.h \
                   src/ngx_apim_record.h

CFLAGS          ?= -g -O2 -Wall -Wextra -Werror -Wno-unused-parameter
APIMCTL_LIBS     = -llmdb -lcrypto

DEB_PACKAGES     = make gcc libc6-dev dpkg-dev nginx nginx-dev liblmdb-dev \
                   libyajl-dev libssl-dev lmdb-utils openssl curl perl \
                   libtest-base-perl libtext-diff-perl \
                   libtest-longstring-perl libwww-perl \
                   liblist-moreutils-perl libipc-run-perl \
                   libio-socket-ssl-perl

PROVE_INC       := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                           || echo -I t/lib)
PROVE_JOBS      ?= 2
T               ?= t

export TEST_NGINX_BINARY       ?= $(NGINX_BIN)
export TEST_NGINX_LOAD_MODULES ?= $(MODULE)
export APIMCTL_BIN             ?= $(CURDIR)/$(APIMCTL)


.PHONY: all module deps run test bench clean

all: module $(APIMCTL)

module: $(MODULE)

# configure runs once per build directory (it takes ~17 s of feature
# probes); editing a .c file only recompiles it.
$(BUILD)/Makefile: config
ifeq ($(NGINX_SRC),$(DEBIAN_NGINX_SRC))
	cd $(NGINX_SRC) && bash -c '. ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(BUILD)' \
	    > $(CURDIR)/configure.log 2>&1 \
	    || { tail -30 $(CURDIR)/configure.log; exit 1; }
else
	cd $(NGINX_SRC) && ./configure --with-compat --with-http_ssl_module \
	    --add-dynamic-module=$(CURDIR) --builddir=$(BUILD) \
	    > $(CURDIR)/configure.log 2>&1 \
	    || { tail -30 $(CURDIR)/configure.log; exit 1; }
endif

$(MODULE): $(BUILD)/Makefile $(SRCS)
	$(MAKE) -f $(BUILD)/Makefile -C $(NGINX_SRC) modules

$(APIMCTL): $(APIMCTL_SRCS) $(APIMCTL_HDRS)
	$(CC) $(CFLAGS) -Isrc -o $@ $(APIMCTL_SRCS) $(APIMCTL_LIBS)

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: deps all
	mkdir -p var/logs
	@echo "serving conf.d/demo.conf on http://127.0.0.1:8080 (Ctrl-C stops)"
	@echo "  curl -i http://127.0.0.1:8080/"
	$(NGINX_BIN) -p $(CURDIR)/ -c conf.d/demo.conf -g 'daemon off;'

test: deps all
	rm -rf t/servroot*
	TEST_NGINX_RANDOMIZE=1 prove $(PROVE_INC) -j$(PROVE_JOBS) -r $(T)

bench: deps all
	bench/run

clean:
	rm -rf build build-upstream configure.log $(APIMCTL) t/servroot* var
