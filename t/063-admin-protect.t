# The admin API's protection (issue 4): the bearer token of
# apim_admin_token (no token, a wrong one, another scheme: 401 with
# WWW-Authenticate and nothing changed), "apim_admin unprotected", and the
# configurations nginx -t refuses, with their exact messages.
#
#   prove -I t/lib t/063-admin-protect.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Admin;

use File::Path qw(remove_tree);

our $Store = server_root() . '.store-admin-protect';

# an [emerg] line of a refused configuration, exactly

sub emerg {
    my ($msg) = @_;

    return qr/\[emerg\] \d+#\d+: \Q$msg\E in \S+\/nginx\.conf:\d+$/;
}

our $Html = server_root() . '/html';


remove_tree($Store);

apimctl(qw(consumer add acme --plan gold));

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-admin-protect;
    apim_plan gold;
_EOC_

our $Config = <<'_EOC_';
    location /admin/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/admin.token;
    }
_EOC_

our $UserFiles = <<'_EOC_';
>>> admin.token
admin-token-0123456789
>>> empty.token

>>> spaced.token
admin token
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $Config)
        unless defined $block->config;

    $block->set_value('user_files', $UserFiles)
        unless defined $block->user_files;
});

no_shuffle();

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: no Authorization header: 401 with WWW-Authenticate: Bearer, nothing changed
--- request
POST /admin/consumers
{"name":"mallory"}
--- more_headers eval
$main::Json
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
Content-Type: application/problem+json
--- response_body eval
main::problem(401, 'Unauthorized', 'the admin API needs \"Authorization: Bearer\" with its token', '/admin/consumers')
--- after_response eval
{ 0 => sub {
    Test::More::is(main::apimctl('consumer', 'list') =~ tr/\n//, 0,
                   'no consumer was made');
} }
--- no_error_log
[error]
[alert]



=== TEST 2: a wrong token: 401 with error="invalid_token", nothing changed, logged
--- request
DELETE /admin/consumers/acme
--- more_headers
Authorization: Bearer admin-token-0123456788
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
Content-Type: application/problem+json
--- response_body eval
main::problem(401, 'Unauthorized', 'the admin token is wrong', '/admin/consumers/acme')
--- after_response eval
{ 0 => sub {
    Test::More::like(main::apimctl('consumer', 'show', 'acme'),
                     qr/^name: acme$/m, 'the consumer is still there');
} }
--- error_log
apim admin: 127.0.0.1 sent a wrong token
--- no_error_log eval
['[error]', '[alert]',
 qr/^\d{4}\/\d\d\/\d\d [\d:]{8} \[(?!debug).*admin-token-0123456788/]



=== TEST 3: tokens that are not the token: longer, shorter, empty, another scheme, every path
--- request eval
["GET /admin/consumers", "GET /admin/consumers", "GET /admin/consumers",
 "GET /admin/consumers", "GET /admin/nothing", "GET /admin/status"]
--- more_headers eval
["Authorization: Bearer admin-token-01234567890\n",
 "Authorization: Bearer admin-token-012345678\n",
 "Authorization: Bearer\n",
 "Authorization: Basic YWRtaW4tdG9rZW4tMDEyMzQ1Njc4OQ==\n",
 "X-API-Key: admin-token-0123456789\n",
 "Authorization: Bearer admin-token-0123456789 x\n"]
--- error_code eval
[(401) x 6]
--- response_headers eval
['WWW-Authenticate: Bearer error="invalid_token"',
 'WWW-Authenticate: Bearer error="invalid_token"',
 'WWW-Authenticate: Bearer',
 'WWW-Authenticate: Bearer',
 'WWW-Authenticate: Bearer',
 'WWW-Authenticate: Bearer error="invalid_token"']
--- no_error_log
[error]
[alert]



=== TEST 4: the right token, whatever the case of "Bearer" and the spaces around the token
--- request eval
[("GET /admin/consumers/acme") x 3]
--- more_headers eval
["Authorization: Bearer admin-token-0123456789\n",
 "Authorization: bearer admin-token-0123456789\n",
 "Authorization: BEARER   admin-token-0123456789  \n"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[(qr/\A\{"name":"acme",/) x 3]
--- no_error_log
[error]
[alert]



=== TEST 5: a token file with a trailing newline: the newline is not part of the token
--- user_files
>>> nl.token
newline-token-0001


--- config
    location /admin/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/nl.token;
    }
--- request
GET /admin/consumers/acme
--- more_headers
Authorization: Bearer newline-token-0001
--- error_code: 200
--- no_error_log
[error]
[alert]



=== TEST 6: apim_admin unprotected: no token needed
--- config
    location /open/ {
        apim_admin unprotected;
    }
--- request
GET /open/consumers/acme
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/\A\{"name":"acme",/
--- no_error_log
[error]
[alert]



=== TEST 7: apim_admin unprotected with a token inherited: the token is still needed
--- config
    apim_admin_token $TEST_NGINX_SERVER_ROOT/html/admin.token;

    location /open/ {
        apim_admin unprotected;
    }
--- request eval
["GET /open/consumers/acme", "GET /open/consumers/acme"]
--- more_headers eval
["", "Authorization: Bearer admin-token-0123456789\n"]
--- error_code eval
[401, 200]
--- no_error_log
[error]
[alert]



=== TEST 8: nginx -t: apim_admin without a token and without "unprotected"
--- config
    location /admin/ {
        apim_admin;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('"apim_admin" needs "apim_admin_token"; write "apim_admin unprotected;" to run it without one')



=== TEST 9: nginx -t: apim_admin without apim_store
--- http_config
--- config
    location /admin/ {
        apim_admin unprotected;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('"apim_admin" directive needs "apim_store" before it in the http block')



=== TEST 10: nginx -t: a token file that does not exist
--- config
    location /admin/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/missing.token;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg(qq{apim_admin_token "$main::Html/missing.token": cannot open the file (2: No such file or directory)})



=== TEST 11: nginx -t: an empty token file
--- config
    location /admin/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/empty.token;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg(qq{apim_admin_token "$main::Html/empty.token": the file is empty})



=== TEST 12: nginx -t: a token with a space in it
--- config
    location /admin/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/spaced.token;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg(qq{apim_admin_token "$main::Html/spaced.token": the token must be printable ASCII without spaces})



=== TEST 13: nginx -t: apim_admin with an unknown parameter
--- config
    location /admin/ {
        apim_admin open;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('invalid parameter "open", it must be "unprotected"')



=== TEST 14: nginx -t: apim_admin twice in a location
--- config
    location /admin/ {
        apim_admin unprotected;
        apim_admin unprotected;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('"apim_admin" directive is duplicate')



=== TEST 15: nginx -t: apim_admin in a regex location
--- config
    location ~ ^/admin/ {
        apim_admin unprotected;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('"apim_admin" cannot be used in the named or regex location "^/admin/"')



=== TEST 16: nginx -t: apim_admin_body_max not a size
--- config
    location /admin/ {
        apim_admin unprotected;
        apim_admin_body_max big;
    }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('"apim_admin_body_max" directive invalid value')
