# API keys (issue 3): where the key is read (X-API-Key, Authorization:
# Bearer, header=, query=, cookie=), every way a key is refused (401/403
# with an RFC 9457 body), what the upstream is told (Kong's headers, spoofed
# copies removed, the credential hidden), the $apim_* variables, and that no
# key is ever logged or echoed.
#
# The store lives beside the server root (Test::Nginx removes the server root
# between blocks) and is filled once, before nginx first starts, with keys
# of fixed text so that requests can name them.
#
#   prove -I t/lib t/020-keys.t     (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl qw(:DEFAULT %Id key);

use File::Path qw(remove_tree);

our $Store = server_root() . '.store-keys';
our (%Id, %Cid);        # key name -> key id; consumer -> consumer id

sub consumer {
    my ($name, $plan) = @_;

    apimctl('consumer', 'add', $name, '--plan', $plan);

    ($Cid{$name}) = apimctl('consumer', 'show', $name) =~ /^id: (\S+)$/m
        or die "consumer show $name: no id";
}

remove_tree($Store);

consumer('alice', 'gold');          # may call every API
consumer('bob', 'bronze');          # may call "orders" only
consumer('carol', 'platinum');      # a plan no apim_plan defines

key('expired-key-0001', 'alice', '--expires', '1s');
my $expires = time + 2;

key('gold-key-0001', 'alice');
key('gold-key-0002', 'alice');
key('bronze-key-0001', 'bob');
key('narrow-key-0001', 'alice', '--apis', 'orders');
key('widen-key-0001', 'bob', '--apis', 'orders,billing');
key('future-key-0001', 'alice', '--not-before', '1h');
key('orphan-key-0001', 'carol');
key('metered-key-0001', 'alice', '--plan', 'metered');
key('revoked-key-0001', 'alice');
key('L' x 512, 'alice');                # the longest key there may be
apimctl('key', 'revoke', $Id{'revoked-key-0001'});

# the expired key has expired before nginx first answers
select undef, undef, undef, 0.1 while time < $expires;

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-keys;
    apim_plan gold;
    apim_plan bronze apis=orders;
    apim_plan metered quota=1000/day;
_EOC_

# What the upstream received: a config that proxies to /backend gets this
# location appended by the preprocessor below.

our $Backend = <<'_EOC_';
    location = /backend {
        apim_key off;
        return 200 "consumer=$http_x_consumer_username\nid=$http_x_consumer_id\ncred=$http_x_credential_identifier\ncustom=$http_x_consumer_custom_id\nanon=$http_x_anonymous_consumer\nkey=$http_x_api_key\ntoken=$http_x_token\nauth=$http_authorization\nargs=$args\ncookie=$http_cookie\n";
    }
_EOC_

# the body /backend answers with: alice's gold key, no credential left,
# unless told otherwise

sub upstream {
    my %got = (consumer => 'alice', id => $Cid{alice},
               cred => $Id{'gold-key-0001'}, custom => '', anon => '',
               key => '', token => '', auth => '', args => '', cookie => '',
               @_);

    return join '', map { "$_=$got{$_}\n" }
        qw(consumer id cred custom anon key token auth args cookie);
}

# RFC 9457 bodies of a refusal

sub problem {
    my ($status, $detail, $instance) = @_;

    my $title = $status == 401 ? 'Unauthorized' : 'Forbidden';

    return qq({"type":"about:blank","title":"$title","status":$status,)
           . qq("detail":"$detail","instance":"$instance"}\n);
}

# patterns for no_error_log: a key's text on any line but nginx's own debug
# dump of the request line, the arguments and the request headers

sub unlogged {
    return [map { qr/^(?!.*: \*\d+ http (?:request line|args|header): ).*\Q$_\E/ }
            @_];
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $block->config . $Backend)
        if defined $block->config && $block->config =~ /\/backend;/;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: no key: 401, the realm is the API's name
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
Content-Type: application/problem+json
--- response_body eval
main::problem(401, 'This API needs an API key.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 2: no key and no apim_api: the realm is "api"
--- config
    location = /t {
        apim_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="api"
Content-Type: application/problem+json
--- response_body eval
main::problem(401, 'This API needs an API key.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 3: a known key passes; the upstream sees the consumer, not the key
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: gold-key-0001
--- error_code: 200
--- response_headers
WWW-Authenticate:
--- response_body eval
main::upstream()
--- no_error_log
[error]
[alert]



=== TEST 4: an unknown key: 401
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: gold-key-9999
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
Content-Type: application/problem+json
--- response_body eval
main::problem(401, 'The API key is not valid.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 5: a revoked key: 401
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: revoked-key-0001
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
--- response_body eval
main::problem(401, 'The API key is not valid.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 6: an empty X-API-Key: 401
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key:
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
--- response_body eval
main::problem(401, 'The API key is not valid.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 7: an 8000-byte key: 401
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers eval
"X-API-Key: gold-key-0001" . ("x" x 7987)
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
--- response_body eval
main::problem(401, 'The API key is not valid.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 8: a key with bytes outside printable ASCII: 401
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: gold-key-0001\xc3\xa9", "X-API-Key: gold-key\x01-0001"]
--- error_code eval
[401, 401]
--- response_body eval
[main::problem(401, 'The API key is not valid.', '/t'),
 main::problem(401, 'The API key is not valid.', '/t')]
--- no_error_log
[error]
[alert]



=== TEST 9: two different keys (X-API-Key and Bearer): 401
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: gold-key-0001
Authorization: Bearer gold-key-0002
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
--- response_body eval
main::problem(401, 'The request carries two different API keys.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 10: two X-API-Key headers with different keys: 401
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: gold-key-0001
X-API-Key: gold-key-0002
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
--- response_body eval
main::problem(401, 'The request carries two different API keys.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 11: the same key twice (X-API-Key and Bearer) passes, both hidden
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: gold-key-0001
Authorization: Bearer gold-key-0001
--- error_code: 200
--- response_body eval
main::upstream()
--- no_error_log
[error]
[alert]



=== TEST 12: Authorization: Bearer carries a key, and is hidden
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t?a=1", "GET /t?a=1"]
--- more_headers eval
["Authorization: Bearer gold-key-0001", "Authorization: bearer gold-key-0001"]
--- error_code eval
[200, 200]
--- response_body eval
[main::upstream(args => 'a=1'), main::upstream(args => 'a=1')]
--- no_error_log
[error]
[alert]



=== TEST 13: the longest key (512 bytes) passes, one byte more is refused
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: " . ("L" x 512), "X-API-Key: " . ("L" x 513)]
--- error_code eval
[200, 401]
--- response_body eval
[main::upstream(cred => $::Id{"L" x 512}),
 main::problem(401, 'The API key is not valid.', '/t')]
--- no_error_log
[error]
[alert]



=== TEST 14: Authorization: Basic is not a key: 401 for want of one
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
Authorization: Basic Z29sZC1rZXktMDAwMTp4
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
--- response_body eval
main::problem(401, 'This API needs an API key.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 15: Authorization: Basic beside a key reaches the upstream untouched
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: gold-key-0001
Authorization: Basic dXNlcjpwYXNz
--- error_code: 200
--- response_body eval
main::upstream(auth => 'Basic dXNlcjpwYXNz')
--- no_error_log
[error]
[alert]



=== TEST 16: header=X-Token replaces the default sources
--- config
    location = /t {
        apim_key header=X-Token;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Token: gold-key-0001",
 "X-API-Key: gold-key-0001",
 "Authorization: Bearer gold-key-0001"]
--- error_code eval
[200, 401, 401]
--- response_body eval
[main::upstream(),
 main::problem(401, 'This API needs an API key.', '/t'),
 main::problem(401, 'This API needs an API key.', '/t')]
--- no_error_log
[error]
[alert]



=== TEST 17: query=: the key argument is hidden, the others kept in order
--- config
    location = /t {
        apim_key query=api_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t?a=1&api_key=gold-key-0001&b=2",
 "GET /t?api_key=gold-key-0001",
 "GET /t?a=1&api_key=gold%2Dkey%2D0001",
 "GET /t?xapi_key=gold-key-0001&api_keyx=gold-key-0001"]
--- error_code eval
[200, 200, 200, 401]
--- response_body eval
[main::upstream(args => 'a=1&b=2'),
 main::upstream(),
 main::upstream(args => 'a=1'),
 main::problem(401, 'This API needs an API key.', '/t')]
--- no_error_log
[error]
[alert]



=== TEST 18: cookie=: the key cookie is hidden, the others kept
--- config
    location = /t {
        apim_key cookie=apikey;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["Cookie: a=1; apikey=gold-key-0001; b=2",
 "Cookie: apikey=gold-key-0001",
 "Cookie: a=1; xapikey=gold-key-0001"]
--- error_code eval
[200, 200, 401]
--- response_body eval
[main::upstream(cookie => 'a=1; b=2'),
 main::upstream(),
 main::problem(401, 'This API needs an API key.', '/t')]
--- no_error_log
[error]
[alert]



=== TEST 19: two different keys in the query string, or in cookies: 401
--- config
    location = /t {
        apim_key query=api_key cookie=apikey;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t?api_key=gold-key-0001&a=1&api_key=gold-key-0002",
 "GET /t",
 "GET /t?api_key=gold-key-0001"]
--- more_headers eval
["",
 "Cookie: apikey=gold-key-0001; a=1; apikey=gold-key-0002",
 "Cookie: apikey=gold-key-0002"]
--- error_code eval
[401, 401, 401]
--- response_body eval
[main::problem(401, 'The request carries two different API keys.', '/t'),
 main::problem(401, 'The request carries two different API keys.', '/t'),
 main::problem(401, 'The request carries two different API keys.', '/t')]
--- no_error_log
[error]
[alert]



=== TEST 20: hide=off: the upstream gets the credential as it came
--- config
    location = /t {
        apim_key header=X-API-Key header=Authorization query=api_key
                 cookie=apikey hide=off;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t?a=1&api_key=gold-key-0001", "GET /t"]
--- more_headers eval
["X-API-Key: gold-key-0001",
 "Authorization: Bearer gold-key-0001",
 "",
 "Cookie: a=1; apikey=gold-key-0001"]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[main::upstream(key => 'gold-key-0001'),
 main::upstream(auth => 'Bearer gold-key-0001'),
 main::upstream(args => 'a=1&api_key=gold-key-0001'),
 main::upstream(cookie => 'a=1; apikey=gold-key-0001')]
--- no_error_log
[error]
[alert]



=== TEST 21: a hidden query key is gone with proxy_pass without a URI too
--- http_config eval
$::HttpConfig . <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "uri=$request_uri\nconsumer=$http_x_consumer_username\n";
        }
    }
_EOC_
--- config
    location /api/ {
        apim_key query=api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /api/x%20y?a=1&api_key=gold-key-0001&b=%41
--- error_code: 200
--- response_body
uri=/api/x%20y?a=1&b=%41
consumer=alice
--- no_error_log
[error]
[alert]



=== TEST 22: apim_key off in an inner location; the server's apim_key elsewhere
--- config
    apim_key;
    apim_api orders;

    location /t/ {
        location = /t/private {
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
        }

        location = /t/public {
            apim_key off;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
        }
    }
--- request eval
["GET /t/public", "GET /t/private", "GET /t/private"]
--- more_headers eval
["", "", "X-API-Key: gold-key-0001"]
--- error_code eval
[200, 401, 200]
--- response_body eval
[main::upstream(consumer => '', id => '', cred => ''),
 main::problem(401, 'This API needs an API key.', '/t/private'),
 main::upstream()]
--- no_error_log
[error]
[alert]



=== TEST 23: satisfy any: a valid key lets in an address deny refuses; without a key nginx's own 401 page answers, with the realm
--- config
    location = /t {
        satisfy any;
        deny all;
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: gold-key-0001", ""]
--- error_code eval
[200, 401]
--- response_headers_like eval
["WWW-Authenticate: \\A\\z", "WWW-Authenticate: ApiKey realm=\"orders\""]
--- response_body_like eval
[qr/\A\Q${\ main::upstream() }\E\z/,
 qr{<title>401 Authorization Required</title>}]
--- no_error_log
[error]
[alert]



=== TEST 24: satisfy any: an address allow lets in needs no key
--- config
    location = /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- error_code: 200
--- response_headers
WWW-Authenticate:
--- response_body eval
main::upstream(consumer => '', id => '', cred => '')
--- no_error_log
[error]
[alert]



=== TEST 25: an expired key: 401, status EXPIRED
--- config
    location = /t {
        apim_key;
        apim_api orders;
        add_header X-Apim-Status $apim_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: expired-key-0001
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
X-Apim-Status: EXPIRED
--- response_body eval
main::problem(401, 'The API key has expired.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 26: a key not valid yet: 401, status BAD_KEY
--- config
    location = /t {
        apim_key;
        apim_api orders;
        add_header X-Apim-Status $apim_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: future-key-0001
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
X-Apim-Status: BAD_KEY
--- response_body eval
main::problem(401, 'The API key is not valid yet.', '/t')
--- no_error_log
[error]
[alert]



=== TEST 27: a plan without the API: 403, no WWW-Authenticate
--- config
    location = /orders {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /billing {
        apim_key;
        apim_api billing;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /any {
        apim_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /orders", "GET /billing", "GET /any"]
--- more_headers
X-API-Key: bronze-key-0001
--- error_code eval
[200, 403, 403]
--- response_headers eval
["Content-Type: text/plain",
 "Content-Type: application/problem+json\nWWW-Authenticate:",
 "Content-Type: application/problem+json\nWWW-Authenticate:"]
--- response_body eval
[main::upstream(consumer => 'bob', id => $::Cid{bob},
                cred => $::Id{'bronze-key-0001'}),
 main::problem(403, 'The API key may not call this API.', '/billing'),
 main::problem(403, 'The API key may not call this API.', '/any')]
--- no_error_log
[error]
[alert]



=== TEST 28: a key's own --apis narrows its plan's
--- config
    location = /orders {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /billing {
        apim_key;
        apim_api billing;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /orders", "GET /billing", "GET /billing"]
--- more_headers eval
["X-API-Key: narrow-key-0001",
 "X-API-Key: narrow-key-0001",
 "X-API-Key: gold-key-0001"]
--- error_code eval
[200, 403, 200]
--- response_body eval
[main::upstream(cred => $::Id{'narrow-key-0001'}),
 main::problem(403, 'The API key may not call this API.', '/billing'),
 main::upstream()]
--- no_error_log
[error]
[alert]



=== TEST 29: a key's own --apis cannot widen its plan's
--- config
    location = /orders {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /billing {
        apim_key;
        apim_api billing;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /orders", "GET /billing"]
--- more_headers
X-API-Key: widen-key-0001
--- error_code eval
[200, 403]
--- response_body eval
[main::upstream(consumer => 'bob', id => $::Cid{bob},
                cred => $::Id{'widen-key-0001'}),
 main::problem(403, 'The API key may not call this API.', '/billing')]
--- no_error_log
[error]
[alert]



=== TEST 30: a key whose plan nginx.conf does not define: 403, a warning
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-API-Key: orphan-key-0001
--- error_code: 403
--- response_headers
WWW-Authenticate:
Content-Type: application/problem+json
--- response_body eval
main::problem(403, "The API key's plan is not offered here.", '/t')
--- error_log eval
qr/\[warn\] .*apim: key "\Q$::Id{'orphan-key-0001'}\E" has plan "platinum", which no apim_plan defines/
--- no_error_log
[error]
[alert]



=== TEST 31: client-sent consumer headers never reach the upstream
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-Consumer-ID: evil
X-Consumer-Username: evil
x-consumer-custom-id: evil
X-Credential-Identifier: evil
X-Anonymous-Consumer: true
X-API-Key: gold-key-0001
--- error_code: 200
--- response_body eval
main::upstream()
--- no_error_log
[error]
[alert]



=== TEST 32: apim_upstream_headers off: no consumer headers, spoofed ones still removed
--- config
    location = /t {
        apim_key;
        apim_api orders;
        apim_upstream_headers off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request
GET /t
--- more_headers
X-Consumer-ID: evil
X-Consumer-Username: evil
X-Consumer-Custom-ID: evil
X-Credential-Identifier: evil
X-Anonymous-Consumer: true
X-API-Key: gold-key-0001
--- error_code: 200
--- response_body eval
main::upstream(consumer => '', id => '', cred => '')
--- no_error_log
[error]
[alert]



=== TEST 33: the variables of a request that passed
--- config
    location = /t {
        apim_key;
        apim_api orders;
        add_header X-Apim "id=$apim_key_id consumer=$apim_consumer plan=$apim_plan api=$apim_api quota=$apim_quota_remaining status=$apim_status";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: gold-key-0001", "X-API-Key: metered-key-0001"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Apim: id=$::Id{'gold-key-0001'} consumer=alice plan=gold api=orders quota= status=PASSED",
 "X-Apim: id=$::Id{'metered-key-0001'} consumer=alice plan=metered api=orders quota=999 status=PASSED"]
--- no_error_log
[error]
[alert]



=== TEST 34: the variables of refused requests
--- config
    location = /orders {
        apim_key;
        apim_api orders;
        add_header X-Apim "id=$apim_key_id consumer=$apim_consumer plan=$apim_plan api=$apim_api quota=$apim_quota_remaining status=$apim_status" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /billing {
        apim_key;
        apim_api billing;
        add_header X-Apim "id=$apim_key_id consumer=$apim_consumer plan=$apim_plan api=$apim_api quota=$apim_quota_remaining status=$apim_status" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /open {
        add_header X-Apim "id=$apim_key_id consumer=$apim_consumer plan=$apim_plan api=$apim_api quota=$apim_quota_remaining status=$apim_status" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
--- request eval
["GET /orders", "GET /orders", "GET /orders", "GET /orders", "GET /billing",
 "GET /orders", "GET /open"]
--- more_headers eval
["",
 "X-API-Key: gold-key-9999",
 "X-API-Key: expired-key-0001",
 "X-API-Key: future-key-0001",
 "X-API-Key: bronze-key-0001",
 "X-API-Key: orphan-key-0001",
 "X-API-Key: gold-key-0001"]
--- error_code eval
[401, 401, 401, 401, 403, 403, 200]
--- response_headers eval
["X-Apim: id= consumer= plan= api=orders quota= status=NO_KEY",
 "X-Apim: id= consumer= plan= api=orders quota= status=BAD_KEY",
 "X-Apim: id=$::Id{'expired-key-0001'} consumer=alice plan= api=orders quota= status=EXPIRED",
 "X-Apim: id=$::Id{'future-key-0001'} consumer=alice plan= api=orders quota= status=BAD_KEY",
 "X-Apim: id=$::Id{'bronze-key-0001'} consumer=bob plan=bronze api=billing quota= status=FORBIDDEN",
 "X-Apim: id=$::Id{'orphan-key-0001'} consumer=carol plan= api=orders quota= status=FORBIDDEN",
 "X-Apim: id= consumer= plan= api= quota= status="]
--- no_error_log
[error]
[alert]



=== TEST 35: keys are never logged, whether they pass or not
--- log_level: debug
--- config
    location = /t {
        apim_key header=X-API-Key header=Authorization query=api_key
                 cookie=apikey;
        apim_api billing;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t?api_key=narrow-key-0001",
 "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: gold-key-0001",
 "Authorization: Bearer gold-key-0002",
 "X-API-Key: gold-key-9999",
 "X-API-Key: expired-key-0001",
 "",
 "Cookie: apikey=orphan-key-0001",
 "X-API-Key: bronze-key-0001"]
--- error_code eval
[200, 200, 401, 401, 403, 403, 403]
--- response_body_unlike eval
["key-0001", "key-0002", "key-9999", "key-0001", "key-0001", "key-0001",
 "key-0001"]
--- no_error_log eval
main::unlogged(qw(gold-key-0001 gold-key-0002 gold-key-9999 expired-key-0001
                  narrow-key-0001 orphan-key-0001 bronze-key-0001))



=== TEST 36: a key in the query string is logged nowhere, in error.log or access.log
--- log_level: debug
--- config
    location = /t {
        apim_key query=api_key;
        apim_api orders;
        empty_gif;
    }
--- request eval
["GET /t?api_key=expired-key-0001", "GET /t?a=1&api_key=gold-key-0001"]
--- error_code eval
[401, 200]
--- no_error_log eval
main::unlogged(qw(expired-key-0001 gold-key-0001))
--- no_access_log eval
["expired-key-0001", "gold-key-0001"]



=== TEST 37: thirty request headers (two parts of nginx's list): all but the key and the spoofed one reach the upstream, with the consumer's
--- config
    location = /t {
        apim_key;
        apim_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        return 200 "first=$http_x_h01\nmiddle=$http_x_h15\nlast=$http_x_h30\nkey=$http_x_api_key\ncustom=$http_x_consumer_custom_id\nconsumer=$http_x_consumer_username\ncred=$http_x_credential_identifier\n";
    }
--- request
GET /t
--- more_headers eval
join "", (map { sprintf "X-H%02d: %d\n", $_, $_ } 1 .. 14),
         "X-API-Key: gold-key-0001\n",
         (map { sprintf "X-H%02d: %d\n", $_, $_ } 15 .. 24),
         "X-Consumer-Custom-ID: evil\n",
         (map { sprintf "X-H%02d: %d\n", $_, $_ } 25 .. 30)
--- error_code: 200
--- response_body eval
"first=1\nmiddle=15\nlast=30\nkey=\ncustom=\nconsumer=alice\n"
. "cred=$main::Id{'gold-key-0001'}\n"
--- no_error_log
[error]
[alert]
