# Deprecation and sunset (issue 5): a deprecated API answers with
# "Deprecation: @<seconds>" (RFC 9745) and "Sunset: <HTTP-date>" (RFC
# 8594); past its sunset it answers 410 with a problem body, before any key
# is asked for or counted, unless apim_api says sunset_action=pass.
#
#   prove -I t/lib t/081-deprecation.t     (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;

use File::Path qw(remove_tree);

our $Store = server_root() . '.store-deprecation';

remove_tree($Store);

apimctl('consumer', 'add', 'acme', '--plan', 'one');
our $KeyId = apimctl('key', 'import', '--consumer', 'acme', 'dep-key-0001');

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-deprecation;
    apim_plan one quota=1/day;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: deprecated, sunset to come: Deprecation and Sunset on the response
--- config
    location /v1/ {
        apim_api orders-v1 deprecated=2020-01-01T00:00:00Z
                 sunset=2099-12-31T23:59:59Z;
        empty_gif;
    }
--- request
GET /v1/orders
--- error_code: 200
--- response_headers
Deprecation: @1577836800
Sunset: Thu, 31 Dec 2099 23:59:59 GMT
Content-Type: image/gif
--- no_error_log
[error]
[alert]



=== TEST 2: deprecated without a sunset: Deprecation only; the offset of the date counts
--- config
    location /v1/ {
        apim_api orders-v1 deprecated=2020-01-01T01:30:00+01:30;
        empty_gif;
    }
--- request
GET /v1/orders
--- error_code: 200
--- response_headers
Deprecation: @1577836800
!Sunset
--- no_error_log
[error]
[alert]



=== TEST 3: a deprecation to come is announced already (RFC 9745 allows a future date)
--- config
    location /v1/ {
        apim_api orders-v1 deprecated=2098-01-01;
        empty_gif;
    }
--- request
GET /v1/orders
--- error_code: 200
--- response_headers
Deprecation: @4039372800
!Sunset
--- no_error_log
[error]
[alert]



=== TEST 4: an API without dates: neither header
--- config
    location /v2/ {
        apim_api orders-v2 version=2;
        empty_gif;
    }
    location /v1/ {
        apim_api orders-v1 deprecated=2020-01-01;
        empty_gif;
    }
--- request
GET /v2/orders
--- error_code: 200
--- response_headers
!Deprecation
!Sunset
--- no_error_log
[error]
[alert]



=== TEST 5: past the sunset: 410 with a problem body and both headers
--- config
    location /v0/ {
        apim_api orders-v0 deprecated=2019-01-01T00:00:00Z
                 sunset=2020-06-30T00:00:00Z;
        empty_gif;
    }
--- request
GET /v0/orders/1
--- error_code: 410
--- response_headers
Content-Type: application/problem+json
Deprecation: @1546300800
Sunset: Tue, 30 Jun 2020 00:00:00 GMT
--- response_body
{"type":"about:blank","title":"Gone","status":410,"detail":"The API \"orders-v0\" was retired on Tue, 30 Jun 2020 00:00:00 GMT.","instance":"/v0/orders/1"}
--- no_error_log
[error]
[alert]



=== TEST 6: past the sunset with sunset_action=pass: served, with both headers
--- config
    location /v0/ {
        apim_api orders-v0 deprecated=2019-01-01T00:00:00Z
                 sunset=2020-06-30T00:00:00Z sunset_action=pass;
        empty_gif;
    }
--- request
GET /v0/orders/1
--- error_code: 200
--- response_headers
Content-Type: image/gif
Deprecation: @1546300800
Sunset: Tue, 30 Jun 2020 00:00:00 GMT
--- no_error_log
[error]
[alert]



=== TEST 7: sunset_action given in one location holds for the API's other paths
--- config
    location /v0/ {
        apim_api orders-v0 sunset=2020-06-30T00:00:00Z sunset_action=pass;
        empty_gif;
    }
    location /old/ {
        apim_api orders-v0;
        empty_gif;
    }
--- request
GET /old/orders/1
--- error_code: 200
--- response_headers
!Deprecation
Sunset: Tue, 30 Jun 2020 00:00:00 GMT
--- no_error_log
[error]
[alert]



=== TEST 8: a retired keyed API answers 410 before the key is asked for
--- config
    location /v0/ {
        apim_key;
        apim_api orders-v0 sunset=2020-06-30T00:00:00Z;
        empty_gif;
    }
--- request
GET /v0/orders/1
--- error_code: 410
--- response_headers
!WWW-Authenticate
Sunset: Tue, 30 Jun 2020 00:00:00 GMT
--- no_error_log
[error]
[alert]



=== TEST 9: a retired keyed API counts nothing: the key's one request a day is still there
--- config
    location /v0/ {
        apim_key;
        apim_api orders-v0 sunset=2020-06-30T00:00:00Z;
        empty_gif;
    }
    location /v1/ {
        apim_key;
        apim_api orders-v1 deprecated=2020-01-01T00:00:00Z;
        add_header X-Left $apim_quota_remaining;
        empty_gif;
    }
--- request eval
["GET /v0/orders/1", "GET /v0/orders/2", "GET /v1/orders/1"]
--- more_headers
X-API-Key: dep-key-0001
--- error_code eval
[410, 410, 200]
--- response_headers eval
["Sunset: Tue, 30 Jun 2020 00:00:00 GMT\n!RateLimit",
 "Sunset: Tue, 30 Jun 2020 00:00:00 GMT\n!RateLimit",
 "Deprecation: \@1577836800\nX-Left: 0"]
--- no_error_log
[error]
[alert]



=== TEST 10: a deprecated keyed API refusing a request still says it is deprecated
--- config
    location /v1/ {
        apim_key;
        apim_api orders-v1 deprecated=2020-01-01T00:00:00Z;
        empty_gif;
    }
--- request
GET /v1/orders
--- error_code: 401
--- response_headers
Deprecation: @1577836800
WWW-Authenticate: ApiKey realm="orders-v1"
--- no_error_log
[error]
[alert]



=== TEST 11: an internal redirect within the API sends each header once
--- config
    location /v1/ {
        apim_api orders-v1 deprecated=2020-01-01T00:00:00Z
                 sunset=2099-12-31T23:59:59Z;
        try_files /nonexistent /v1b/gif;
    }
    location /v1b/ {
        apim_api orders-v1;
        empty_gif;
    }
--- request
GET /v1/orders
--- error_code: 200
--- response_headers
Content-Type: image/gif
Deprecation: @1577836800
--- raw_response_headers_unlike: Deprecation.*Deprecation|Sunset.*Sunset
--- no_error_log
[error]
[alert]



=== TEST 12: a server's apim_api holds for its locations
--- config
    apim_api orders-v1 deprecated=2020-01-01T00:00:00Z;

    location /v1/ {
        empty_gif;
    }
--- request
GET /v1/orders
--- error_code: 200
--- response_headers
Deprecation: @1577836800
--- no_error_log
[error]
[alert]
