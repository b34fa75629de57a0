# The catalogue (issue 5): apim_api's description of an API, the same API
# at several paths, public and private APIs, deprecated and retired ones,
# the plans that may call each, what a key may call, ?format=openapi, the
# docs file at <catalogue>/docs/<api>, every refusal with its problem body,
# and every configuration mistake nginx -t must catch.
#
#   prove -I t/lib t/080-catalogue.t     (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl qw(:DEFAULT %Id consumer);

use File::Path qw(remove_tree);

our $Store = server_root() . '.store-catalogue';
our %Id;

# the line nginx -t logs for a configuration mistake

sub emerg {
    my ($msg) = @_;

    return qr/\[emerg\] \d+#\d+: \Q$msg\E in \S+\/nginx\.conf:\d+$/;
}

sub problem {
    my ($status, $title, $detail, $instance) = @_;

    return qq({"type":"about:blank","title":"$title","status":$status,)
           . qq("detail":"$detail","instance":"$instance"}\n);
}

remove_tree($Store);

consumer('acme', 'gold', 'gold-key-0001');
consumer('bob', 'free', 'free-key-0001');
consumer('carol', 'partner', 'partner-key-0001');
consumer('dave', 'nosuch', 'nosuch-key-0001');

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-catalogue;
    apim_plan gold rate=10r/s burst=5 quota=1000/day;
    apim_plan free quota=100/hour apis=orders;
    apim_plan partner rate=60r/m quota=50/30s quota_window=rolling apis=orders,internal;
_EOC_

our $Config = <<'_EOC_';
    location /orders/ {
        apim_key;
        apim_api orders version=2 "title=Orders API"
                 "description=Place and track orders"
                 docs=../html/orders.yaml owner=team-orders
                 tags=commerce,orders;
        empty_gif;
    }

    location /v2/orders/ {
        apim_key;
        apim_api orders;
        empty_gif;
    }

    location /billing/ {
        apim_key;
        apim_api billing version=1 title="Billing"
                 docs=https://docs.example.com/billing tags=commerce
                 deprecated=2020-01-01T00:00:00Z
                 sunset=2099-12-31T23:59:59Z;
        empty_gif;
    }

    location /fax/ {
        apim_api fax title=Fax deprecated=2019-06-01
                 sunset=2020-06-01T02:00:00+02:00 sunset_action=pass;
        empty_gif;
    }

    location /internal/ {
        apim_key;
        apim_api internal visibility=private title=Internal
                 docs=../html/internal.json;
        empty_gif;
    }

    location /apis/ {
        apim_catalogue;
    }
_EOC_

our $Files = <<'_EOF_';
>>> orders.yaml
openapi: 3.0.3
info: {title: Orders API, version: "2"}
>>> internal.json
{"openapi":"3.0.3","info":{"title":"Internal","version":"1"}}
_EOF_

our $Gold = '{"name":"gold","rate":{"limit":10,"window":1,"burst":5},'
            . '"quota":{"limit":1000,"window":"day","rolling":false}}';
our $Free = '{"name":"free","rate":null,'
            . '"quota":{"limit":100,"window":"hour","rolling":false}}';
our $Partner = '{"name":"partner","rate":{"limit":60,"window":60,"burst":0},'
               . '"quota":{"limit":50,"window":30,"rolling":true}}';

our $Orders = '{"name":"orders","version":"2","title":"Orders API",'
    . '"description":"Place and track orders","docs":"/apis/docs/orders",'
    . '"owner":"team-orders","tags":["commerce","orders"],'
    . '"paths":["/orders/","/v2/orders/"],"visibility":"public",'
    . '"state":"active","deprecated":null,"sunset":null,'
    . qq("plans":[$Gold,$Free,$Partner]CALLABLE});

our $Billing = '{"name":"billing","version":"1","title":"Billing",'
    . '"description":null,"docs":"https://docs.example.com/billing",'
    . '"owner":null,"tags":["commerce"],"paths":["/billing/"],'
    . '"visibility":"public","state":"deprecated",'
    . '"deprecated":"2020-01-01T00:00:00Z","sunset":"2099-12-31T23:59:59Z",'
    . qq("plans":[$Gold]CALLABLE});

our $Fax = '{"name":"fax","version":null,"title":"Fax","description":null,'
    . '"docs":null,"owner":null,"tags":[],"paths":["/fax/"],'
    . '"visibility":"public","state":"sunset",'
    . '"deprecated":"2019-06-01T00:00:00Z","sunset":"2020-06-01T00:00:00Z",'
    . qq("plans":[$Gold]CALLABLE});

our $Internal = '{"name":"internal","version":null,"title":"Internal",'
    . '"description":null,"docs":"/apis/docs/internal","owner":null,'
    . '"tags":[],"paths":["/internal/"],"visibility":"private",'
    . '"state":"active","deprecated":null,"sunset":null,'
    . qq("plans":[$Gold,$Partner]CALLABLE});

# an API's entry; with a key, whether that key may call it

sub api {
    my ($json, $callable) = @_;

    return $json =~ s/CALLABLE/defined $callable ? ",\"callable\":$callable" : ''/er;
}

sub key_view {
    my ($key, $consumer, $plan, @apis) = @_;

    return qq("key":{"key_id":"$Id{$key}","consumer":"$consumer",)
           . qq("plan":"$plan","apis":[) . join(',', map { qq("$_") } @apis)
           . ']}';
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('user_files', $Files)
        unless defined $block->user_files;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: no key: every public API, its paths, plans and lifecycle; no private one
--- request
GET /apis/
--- error_code: 200
--- response_headers
Content-Type: application/json
!Cache-Control
--- response_body eval
'{"apis":[' . CORE::join(',', main::api($main::Orders), main::api($main::Billing),
                   main::api($main::Fax)) . "]}\n"
--- no_error_log
[error]
[alert]



=== TEST 2: a key whose plan may call every API sees the private one, and what it may call
--- request
GET /apis/
--- more_headers
X-API-Key: gold-key-0001
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: private, no-store
--- response_body eval
'{"apis":[' . CORE::join(',', main::api($main::Orders, 'true'),
                   main::api($main::Billing, 'true'),
                   main::api($main::Fax, 'true'),
                   main::api($main::Internal, 'true')) . '],'
. main::key_view('gold-key-0001', 'acme', 'gold',
                 qw(orders billing fax internal)) . "}\n"
--- no_error_log
[error]
[alert]



=== TEST 3: a key whose plan lists APIs: the private API stays hidden, the others say callable:false
--- request
GET /apis/
--- more_headers
Authorization: Bearer free-key-0001
--- error_code: 200
--- response_body eval
'{"apis":[' . CORE::join(',', main::api($main::Orders, 'true'),
                   main::api($main::Billing, 'false'),
                   main::api($main::Fax, 'false')) . '],'
. main::key_view('free-key-0001', 'bob', 'free', 'orders') . "}\n"
--- no_error_log
[error]
[alert]



=== TEST 4: a key whose plan lists the private API sees it
--- request
GET /apis/
--- more_headers
X-API-Key: partner-key-0001
--- error_code: 200
--- response_body eval
'{"apis":[' . CORE::join(',', main::api($main::Orders, 'true'),
                   main::api($main::Billing, 'false'),
                   main::api($main::Fax, 'false'),
                   main::api($main::Internal, 'true')) . '],'
. main::key_view('partner-key-0001', 'carol', 'partner',
                 qw(orders internal)) . "}\n"
--- no_error_log
[error]
[alert]



=== TEST 5: an unknown key: 401 with a problem body
--- request
GET /apis/
--- more_headers
X-API-Key: no-such-key-0001
--- error_code: 401
--- response_headers
Content-Type: application/problem+json
WWW-Authenticate: ApiKey realm="api"
--- response_body eval
main::problem(401, 'Unauthorized', 'The API key is not valid.', '/apis/')
--- no_error_log
[error]
[alert]



=== TEST 6: two different keys: 401
--- request
GET /apis/
--- more_headers
X-API-Key: gold-key-0001
Authorization: Bearer free-key-0001
--- error_code: 401
--- response_body eval
main::problem(401, 'Unauthorized',
              'The request carries two different API keys.', '/apis/')
--- no_error_log
[error]
[alert]



=== TEST 7: a key whose plan nginx.conf does not define: 403
--- request
GET /apis/
--- more_headers
X-API-Key: nosuch-key-0001
--- error_code: 403
--- response_body eval
main::problem(403, 'Forbidden', "The API key's plan is not offered here.",
              '/apis/')
--- no_error_log
[error]
[alert]



=== TEST 8: the catalogue reads the key where the location's apim_key says, and counts nothing
--- config
    location /orders/ {
        apim_key;
        apim_api orders;
        empty_gif;
    }

    location /apis/ {
        apim_key query=api_key;
        apim_catalogue;
    }
--- user_files
--- request
GET /apis/?api_key=free-key-0001
--- error_code: 200
--- response_headers
RateLimit-Policy:
--- response_body eval
'{"apis":[{"name":"orders","version":null,"title":null,"description":null,'
. '"docs":null,"owner":null,"tags":[],"paths":["/orders/"],'
. '"visibility":"public","state":"active","deprecated":null,"sunset":null,'
. qq("plans":[$main::Gold,$main::Free,$main::Partner],"callable":true}],)
. main::key_view('free-key-0001', 'bob', 'free', 'orders') . "}\n"
--- no_error_log
[error]
[alert]



=== TEST 9: ?format=openapi: each API's OpenAPI document link
--- request
GET /apis/?format=openapi
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body
{"openapi":[{"name":"orders","version":"2","title":"Orders API","url":"/apis/docs/orders"},{"name":"billing","version":"1","title":"Billing","url":"https://docs.example.com/billing"},{"name":"fax","version":null,"title":"Fax","url":null}]}
--- no_error_log
[error]
[alert]



=== TEST 10: ?format=openapi with a key that may call the private API
--- request
GET /apis/?format=openapi
--- more_headers
X-API-Key: partner-key-0001
--- error_code: 200
--- response_body
{"openapi":[{"name":"orders","version":"2","title":"Orders API","url":"/apis/docs/orders"},{"name":"billing","version":"1","title":"Billing","url":"https://docs.example.com/billing"},{"name":"fax","version":null,"title":"Fax","url":null},{"name":"internal","version":null,"title":"Internal","url":"/apis/docs/internal"}]}
--- no_error_log
[error]
[alert]



=== TEST 11: an unknown format: 400
--- request
GET /apis/?format=xml
--- error_code: 400
--- response_body eval
main::problem(400, 'Bad Request',
              'The format must be \"json\" or \"openapi\".', '/apis/')
--- no_error_log
[error]
[alert]



=== TEST 12: the docs file at <catalogue>/docs/<api>, as read at start
--- request
GET /apis/docs/orders
--- error_code: 200
--- response_headers
Content-Type: application/yaml
Content-Length: 55
--- response_body
openapi: 3.0.3
info: {title: Orders API, version: "2"}
--- no_error_log
[error]
[alert]



=== TEST 13: no docs file for an unknown API, a docs URL, or a private API: 404
--- request eval
["GET /apis/docs/nosuch", "GET /apis/docs/billing", "GET /apis/docs/internal",
 "GET /apis/other"]
--- error_code eval
[404, 404, 404, 404]
--- response_body eval
[main::problem(404, 'Not Found', 'The catalogue has no such document.',
               '/apis/docs/nosuch'),
 main::problem(404, 'Not Found', 'The catalogue has no such document.',
               '/apis/docs/billing'),
 main::problem(404, 'Not Found', 'The catalogue has no such document.',
               '/apis/docs/internal'),
 main::problem(404, 'Not Found', 'The catalogue has no such document.',
               '/apis/other')]
--- no_error_log
[error]
[alert]



=== TEST 14: POST: 405 with Allow
--- request
POST /apis/
hello
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body eval
main::problem(405, 'Method Not Allowed', 'This endpoint answers GET and HEAD.',
              '/apis/')
--- no_error_log
[error]
[alert]



=== TEST 15: apim_api with parameters still decides what a key may call
--- request eval
["GET /orders/1", "GET /v2/orders/1", "GET /billing/1"]
--- more_headers
X-API-Key: free-key-0001
--- error_code eval
[200, 200, 403]
--- no_error_log
[error]
[alert]



=== TEST 16: HEAD: the headers alone
--- request
HEAD /apis/
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body
--- no_error_log
[error]
[alert]



=== TEST 17: nginx -t: conflicting attributes of one API in two locations
--- config
    location /a/ { apim_api orders version=1 title=Orders; empty_gif; }
    location /b/ { apim_api orders version=2; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('apim_api "orders": "version=2" conflicts with "version=1" given before')



=== TEST 18: nginx -t: conflicting visibility
--- config
    location /a/ { apim_api orders visibility=private; empty_gif; }
    location /b/ { apim_api orders visibility=public; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('apim_api "orders": "visibility" conflicts with the value given before')



=== TEST 19: nginx -t: conflicting tags
--- config
    location /a/ { apim_api orders tags=a,b; empty_gif; }
    location /b/ { apim_api orders tags=a; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('apim_api "orders": "tags" conflicts with the tags given before')



=== TEST 20: nginx -t: a bad date
--- config
    location /a/ { apim_api orders deprecated=2026-13-01T00:00:00Z; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('invalid parameter "deprecated=2026-13-01T00:00:00Z": not an RFC 3339 date such as "2026-06-30T00:00:00Z"')



=== TEST 21: nginx -t: a date without its zone
--- config
    location /a/ { apim_api orders sunset=2026-06-01T00:00:00; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('invalid parameter "sunset=2026-06-01T00:00:00": not an RFC 3339 date such as "2026-06-30T00:00:00Z"')



=== TEST 22: nginx -t: an unknown visibility
--- config
    location /a/ { apim_api orders visibility=internal; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('invalid parameter "visibility=internal", it must be "visibility=public" or "visibility=private"')



=== TEST 23: nginx -t: an unknown parameter
--- config
    location /a/ { apim_api orders colour=blue; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('invalid parameter "colour=blue"')



=== TEST 24: nginx -t: a parameter given twice
--- config
    location /a/ { apim_api orders version=1 version=2; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('duplicate parameter "version=2"')



=== TEST 25: nginx -t: a docs file that does not exist
--- config
    location /a/ { apim_api orders docs=../html/missing.yaml; empty_gif; }
--- user_files
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid parameter "docs=..\/html\/missing.yaml": cannot open "\S+\/conf\/..\/html\/missing.yaml" \(2: No such file or directory\) in \S+\/nginx\.conf:\d+$/



=== TEST 26: nginx -t: a sunset before the deprecation, given in two locations
--- config
    location /a/ { apim_api orders deprecated=2026-06-01; empty_gif; }
    location /b/ { apim_api orders sunset=2026-01-01; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('apim_api "orders": "sunset=2026-01-01T00:00:00Z" is before "deprecated=2026-06-01T00:00:00Z"')



=== TEST 27: nginx -t: a bad sunset_action
--- config
    location /a/ { apim_api orders sunset_action=404; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('invalid parameter "sunset_action=404", it must be "sunset_action=410" or "sunset_action=pass"')



=== TEST 28: nginx -t: a bad tag
--- config
    location /a/ { apim_api orders tags=a,,b; empty_gif; }
--- user_files
--- must_die
--- error_log eval
main::emerg('invalid parameter "tags=a,,b": a tag is 1 to 64 of A-Z a-z 0-9 . _ -')



=== TEST 29: nginx -t: apim_catalogue in a regular expression location
--- config
    location ~ ^/apis { apim_catalogue; }
--- user_files
--- must_die
--- error_log eval
main::emerg('"apim_catalogue" directive needs a prefix or an exact location, not a regular expression')



=== TEST 30: nginx -t: apim_catalogue without apim_store
--- http_config
--- config
    location /apis/ { apim_catalogue; }
--- user_files
--- must_die
--- error_log eval
main::emerg('"apim_catalogue" directive needs "apim_store" before it in the http block')
