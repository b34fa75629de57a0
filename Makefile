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
APIMCTL_SRCS     = tools/apimctl.c tools/apimctl_consumer.c \
                   tools/apimctl_key.c tools/apimctl_json.c \
                   tools/apimctl_status.c tools/apimctl_export.c \
                   tools/apimctl_import.c tools/apimctl_mesh.c \
                   src/ngx_apim_store.c src/ngx_apim_key.c \
                   src/ngx_apim_record.c src/ngx_apim_usage.c \
                   src/ngx_apim_ops.c src/ngx_mesh_spiffe.c \
                   src/ngx_mesh_pattern.c src/ngx_mesh_policy_record.c
APIMCTL_HDRS     = tools/apimctl.h src/ngx_apim_store.h src/ngx_apim_key.h \
                   src/ngx_apim_record.h src/ngx_apim_usage.h \
                   src/ngx_apim_ops.h src/ngx_mesh_spiffe.h \
                   src/ngx_mesh_pattern.h src/ngx_mesh_policy_record.h

CFLAGS          ?= -g -O2 -Wall -Wextra -Werror -Wno-unused-parameter
APIMCTL_LIBS     = -llmdb -lcrypto -lyajl

DEB_PACKAGES     = make gcc libc6-dev dpkg-dev nginx nginx-dev liblmdb-dev \
                   libyajl-dev libssl-dev lmdb-utils openssl curl perl \
                   libtest-base-perl libtext-diff-perl \
                   libtest-longstring-perl libwww-perl \
                   liblist-moreutils-perl libipc-run-perl \
                   libio-socket-ssl-perl chromium

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
	mkdir -p $(BUILD)
	cd $(NGINX_SRC) && bash -c '. ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(BUILD)' \
	    > $(CURDIR)/configure.log 2>&1 \
	    || { tail -30 $(CURDIR)/configure.log; exit 1; }
else
	mkdir -p $(BUILD)
	cd $(NGINX_SRC) && $$(test -x ./configure && echo ./configure \
	        || echo auto/configure) --with-compat --with-http_ssl_module \
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
	mkdir -p var/logs var/tmp
	test -s var/admin-token || { umask 077; head -c 24 /dev/urandom \
	    | od -An -tx1 | tr -d ' \n' > var/admin-token; }
	$(NGINX_BIN) -p $(CURDIR)/ -c conf.d/demo.conf -t -q
	-@$(APIMCTL) -s var/store consumer add demo --plan free 2>/dev/null
	-@$(APIMCTL) -s var/store key import --consumer demo demo-key-0001 \
	    >/dev/null 2>&1
	@echo
	@echo "serving conf.d/demo.conf on http://127.0.0.1:8080 (Ctrl-C stops);"
	@echo "the consumer \"demo\" (plan free) has the key demo-key-0001:"
	@echo
	@echo "  curl -i -H 'X-API-Key: demo-key-0001' http://127.0.0.1:8080/hello"
	@echo "  curl -i http://127.0.0.1:8080/hello            # 401, no key"
	@echo "  curl -i -H 'X-API-Key: demo-key-0001' http://127.0.0.1:8080/orders  # 403"
	@echo "  curl -s http://127.0.0.1:8080/status"
	@echo "  curl -s http://127.0.0.1:8080/apis/      # the catalogue"
	@echo "  curl -s -H 'X-API-Key: demo-key-0001' http://127.0.0.1:8080/me"
	@echo "  http://127.0.0.1:8080/portal in a browser: the developer portal"
	@echo "  tools/apimctl -s var/store key add --consumer demo   # a new key"
	@echo "  curl -s http://127.0.0.1:8080/metrics"
	@echo "  curl -s -H \"Authorization: Bearer \$$(cat var/admin-token)\" \\"
	@echo "       http://127.0.0.1:8080/admin/keys   # the admin API"
	@echo
	$(NGINX_BIN) -p $(CURDIR)/ -c conf.d/demo.conf -g 'daemon off;'

test: deps all
	rm -rf t/servroot*
	TEST_NGINX_RANDOMIZE=1 prove $(PROVE_INC) -j$(PROVE_JOBS) -r $(T)

# wrk, the Lua module for the OpenResty-style row and valgrind for the
# instruction counts (bench/callgrind), only for the bench
bench: deps all
	@for p in wrk bc libnginx-mod-http-lua valgrind; do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	bench/run

clean:
	rm -rf build build-upstream configure.log $(APIMCTL) t/servroot* var
