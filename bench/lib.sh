# Shared by bench/run and bench/callgrind: the paths, the CPU placement and
# the rows' nginx configurations. The caller cds to the top of the tree,
# sets WORK (its temporary directory) and BIG_KEYS before using these, and
# may set CONF_STORE_OPTS / CONF_ANALYTICS_OPTS (extra parameters of
# apim_store / apim_analytics; empty for bench/run).

TOP=$PWD
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${BENCH_MODULE:-$TOP/build/ngx_http_apim_module.so}
APIMCTL=$TOP/tools/apimctl
LUA_MODULES=/usr/lib/nginx/modules

# with two cores or more, wrk runs on the first and nginx's worker on the
# second, so that they do not take turns on one core
if [ "$(nproc)" -ge 2 ] && command -v taskset > /dev/null; then
    AFFINITY="worker_cpu_affinity 10;"
    PIN=(taskset -c 0)
else
    AFFINITY=""
    PIN=()
fi

CONF_STORE_OPTS=${CONF_STORE_OPTS:-}
CONF_ANALYTICS_OPTS=${CONF_ANALYTICS_OPTS:-}

say() { printf '%s\n' "$*" >&2; }

# --- the rows' configurations ------------------------------------------------

preamble() {    # $1: extra main-context lines
    cat <<EOF
$1
worker_processes 1;
$AFFINITY
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
EOF
}

http_open() {
    cat <<EOF
http {
    access_log off;
    keepalive_requests 1000000;
EOF
}

# keys bench-key-00000001 ... in a file, for the map row and for apimctl
make_keys() {   # $1: count, $2: file
    awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) printf "bench-key-%08d\n", i }' > "$2"
}

store_with_keys() {    # $1: dir, $2: count, $3: plan
    local keys=$WORK/keys-$2.txt
    [ -f "$keys" ] || make_keys "$2" "$keys"
    "$APIMCTL" -s "$1" --size 4g consumer add bench --plan "$3" > /dev/null
    "$APIMCTL" -s "$1" --size 4g key import-file --consumer bench "$keys" > /dev/null 2>&1
}

row_conf() {    # $1: row, $2: port, $3: prefix
    local row=$1 port=$2 prefix=$3
    case $row in
    A)  preamble ""; http_open
        echo "server { listen 127.0.0.1:$port; location / { return 200 'ok'; } } }" ;;
    A2) preamble ""; http_open
        echo "server { listen 127.0.0.1:$port; location / { empty_gif; } } }" ;;
    B)  preamble ""; http_open
        cat <<EOF
    map_hash_max_size 20000;
    map_hash_bucket_size 128;
    map \$http_x_api_key \$bench_consumer {
        default "";
        include $WORK/map-10000.conf;
    }
    limit_req_zone \$bench_consumer zone=bench:10m rate=1000000r/s;
    server {
        listen 127.0.0.1:$port;
        location / {
            if (\$bench_consumer = "") { return 401; }
            limit_req zone=bench burst=1000000 nodelay;
            empty_gif;
        }
    }
}
EOF
        ;;
    C)  preamble "load_module $LUA_MODULES/ndk_http_module.so;
load_module $LUA_MODULES/ngx_http_lua_module.so;"
        http_open
        cat <<EOF
    lua_shared_dict keys 64m;
    lua_shared_dict counters 64m;
    init_by_lua_block {
        local keys = ngx.shared.keys
        for i = 1, 10000 do
            keys:set(string.format("bench-key-%08d", i), "bench")
        end
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            access_by_lua_block {
                local key = ngx.var.http_x_api_key
                local consumer = key and ngx.shared.keys:get(key)
                if not consumer then return ngx.exit(401) end
                ngx.shared.counters:incr(consumer, 1, 0)
            }
            empty_gif;
        }
    }
}
EOF
        ;;
    D|E|F|G|H|H1)
        local plan=limits upstream=off
        [ "$row" = D ] && plan=none
        local analytics=""
        [ "$row" = F ] && upstream=on && analytics="apim_analytics$CONF_ANALYTICS_OPTS;"
        preamble "load_module $MODULE;"; http_open
        cat <<EOF
    apim_store $prefix/store size=4g zone=256m$CONF_STORE_OPTS;
    $analytics
    apim_plan none;
    apim_plan limits rate=1000000r/s burst=1000000 quota=2000000000/month;
    server {
        listen 127.0.0.1:$port;
        location / {
            apim_key;
            apim_upstream_headers $upstream;
            empty_gif;
        }
    }
}
EOF
        ;;
    I|J)
        # the measured nginx: mTLS keep-alive requests from the front
        # nginx below; J adds identity, authorization and a limit
        preamble "load_module $MODULE;"; http_open
        echo "    apim_store $prefix/store$CONF_STORE_OPTS;"
        if [ "$row" = J ]; then
            cat <<EOF
    mesh_trust_domain bench.test;
    mesh_trust_bundle bench.test $WORK/pki/ca.pem;
EOF
        fi
        cat <<EOF
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $WORK/pki/server.pem;
        ssl_certificate_key $WORK/pki/server.key;
        ssl_client_certificate $WORK/pki/ca.pem;
        ssl_verify_client on;
        location / {
EOF
        if [ "$row" = J ]; then
            cat <<EOF
            mesh_mtls strict;
            mesh_service bench;
            mesh_allow spiffe://bench.test/ns/bench/*;
            mesh_limit * rate=1000000r/s burst=1000000;
EOF
        fi
        echo "            empty_gif; } } }"
        ;;
    esac
}

# the front nginx of rows I and J: plain HTTP in (from wrk), mTLS with
# keep-alive out, on wrk's CPU
front_conf() {  # $1: backend port, $2: front port
    cat <<EOF
worker_processes 1;
${AFFINITY:+worker_cpu_affinity 01;}
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    upstream backend { server 127.0.0.1:$1; keepalive 64; }
    server {
        listen 127.0.0.1:$2;
        location / {
            proxy_pass https://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_ssl_certificate $WORK/pki/client.pem;
            proxy_ssl_certificate_key $WORK/pki/client.key;
        }
    }
}
EOF
}

# a CA of the trust domain bench.test and two SVIDs signed by it
make_pki() {
    local d=$WORK/pki
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2> /dev/null
    for who in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/$who.key" -out "$d/$who.csr" -subj "/CN=$who" 2> /dev/null
        printf '%s\n' "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth,clientAuth" \
            "subjectAltName=URI:spiffe://bench.test/ns/bench/sa/$who" > "$d/$who.ext"
        openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 2 -extfile "$d/$who.ext" -out "$d/$who.pem" 2> /dev/null
    done
}

# the port wrk talks to: the front's for the mesh rows
row_url_port() {    # $1: row, $2: the row's port
    case $1 in I|J) echo $(($2 + 100)) ;; *) echo "$2" ;; esac
}

row_keys() {    # how many keys a row's store holds
    case $1 in
    D|E|F) echo 1 ;;
    G) echo 1000 ;;
    H|H1) echo "$BIG_KEYS" ;;
    *) echo 0 ;;
    esac
}

# H1 cycles 1,000 keys spread over the whole store: key 1, 1 + stride, ...
row_stride() {
    case $1 in
    H1) echo $((BIG_KEYS / 1000)) ;;
    *) echo 1 ;;
    esac
}

row_title() {
    case $1 in
    A)  echo "stock nginx, return 200 (the floor)" ;;
    A2) echo "stock nginx, empty_gif (the content rows D-H serve)" ;;
    B)  echo "stock nginx: map of 10,000 keys + if + limit_req" ;;
    C)  echo "OpenResty-style: lua_shared_dict key lookup + incr" ;;
    D)  echo "ours: key auth only" ;;
    E)  echo "ours: key + rate limit + quota" ;;
    F)  echo "ours: E + analytics + upstream (Kong) headers" ;;
    G)  echo "ours: E, 1,000 keys in the store, all cycled" ;;
    H1) echo "ours: E, $BIG_KEYS keys in the store, 1,000 of them cycled" ;;
    H)  echo "ours: E, $BIG_KEYS keys in the store, all cycled" ;;
    I)  echo "stock nginx: mTLS keep-alive requests (ssl_verify_client on)" ;;
    J)  echo "ours: I + SPIFFE identity + authorization + east-west limit" ;;
    esac
}
