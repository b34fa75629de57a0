# The admin API's defences against bad input (issue 4): malformed JSON,
# wrong types, unknown and repeated fields, bodies above
# apim_admin_body_max (with a length or chunked), deep nesting, invalid
# UTF-8, bodies that are not JSON: each answered 400, 413 or 415 with a
# problem body naming what is wrong, and the store left as it was.
#
#   prove -I t/lib t/064-admin-bad-input.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Admin;

use File::Path qw(remove_tree);

our $Store = server_root() . '.store-admin-bad-input';

# everything apimctl can tell of the store

sub snapshot {
    my $text = apimctl('consumer', 'list') . "\n" . apimctl('key', 'list');

    for my $id (map { (split /\t/)[0] } split /\n/, apimctl('key', 'list')) {
        $text .= "\n" . apimctl('key', 'show', $id);
    }

    return $text . "\n" . apimctl('consumer', 'show', 'acme');
}

# the store is as it was before the block

sub unchanged {
    return { map { $_ => sub {
        Test::More::is(main::snapshot(), $main::Before, 'the store is unchanged');
    } } @_ };
}

sub bad {
    my ($detail, $instance) = @_;

    return problem(400, 'Bad Request', $detail, $instance // '/admin/consumers');
}

# a body in one chunk of chunked transfer encoding

sub chunked {
    my ($body) = @_;

    return sprintf("%x\r\n", length $body) . $body . "\r\n0\r\n\r\n";
}


our $Full = server_root() . '.store-admin-full';

remove_tree($Store, $Full);

apimctl(qw(consumer add acme --plan gold --meta team=payments));
key('acme-key-0001', 'acme', '--apis', 'orders');

our $Before = snapshot();

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-admin-bad-input;
    apim_plan gold;
_EOC_

our $Config = <<'_EOC_';
    location /admin/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/admin.token;
    }

    location /small/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/admin.token;
        apim_admin_body_max 100;
    }
_EOC_

our $UserFiles = <<'_EOC_';
>>> admin.token
admin-token-0123456789
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
    remove_tree($Store, $Full) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: malformed JSON: 400 naming the field where it broke
--- request eval
["POST /admin/consumers\n{\"name\":\"x\"} x",
 "POST /admin/consumers\n{\"name\":\"x\",}",
 "POST /admin/consumers\n{'name':'x'}",
 "POST /admin/consumers\n{\"name\":\"x\"/* c */}",
 "POST /admin/consumers\n{}{}",
 "POST /admin/consumers\n{\"name\":",
 "PATCH /admin/consumers/acme\n{\"metadata\":{\"a\":tru}}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[(400) x 7]
--- response_headers eval
[("Content-Type: application/problem+json") x 7]
--- response_body eval
[main::bad('the body is not valid JSON at field \"name\": parse error: trailing garbage'),
 main::bad('the body is not valid JSON at field \"name\": parse error: invalid object key (must be a string)'),
 main::bad('the body is not valid JSON: lexical error: invalid char in json text'),
 main::bad('the body is not valid JSON at field \"name\": lexical error: probable comment found in input text, comments are not enabled'),
 main::bad('the body is not valid JSON: parse error: trailing garbage'),
 main::bad('the body is not valid JSON at field \"name\": parse error: premature EOF'),
 main::bad('the body is not valid JSON at field \"metadata\": lexical error: invalid string in json text', '/admin/consumers/acme')]
--- after_response eval
main::unchanged(6)
--- no_error_log
[error]
[alert]



=== TEST 2: wrong types: 400 naming the field and the type
--- request eval
["POST /admin/consumers\n{\"name\":7}",
 "POST /admin/consumers\n{\"name\":\"x\",\"plan\":[\"gold\"]}",
 "POST /admin/consumers\n{\"name\":\"x\",\"metadata\":\"a=b\"}",
 "POST /admin/consumers\n{\"name\":99999999999999999999}",
 "POST /admin/keys\n{\"consumer\":{\"name\":\"acme\"}}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"apis\":[1,2]}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"not_before\":1700000000}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"key\":12345678}",
 "PATCH /admin/keys/$main::Id{'acme-key-0001'}\n{\"disabled\":1}",
 "PATCH /admin/keys/$main::Id{'acme-key-0001'}\n{\"plan\":false}",
 "POST /admin/keys/$main::Id{'acme-key-0001'}/rotate\n{\"grace\":null}",
 "POST /admin/consumers\nnull",
 "POST /admin/consumers\n[{\"name\":\"x\"}]",
 "POST /admin/consumers\n\"x\""]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[(400) x 14]
--- response_body eval
[main::bad('\"name\" must not be an integer'),
 main::bad('\"plan\" must not be an array'),
 main::bad('\"metadata\" must not be a string'),
 main::bad('\"name\" must not be a number'),
 main::bad('\"consumer\" must not be an object', '/admin/keys'),
 main::bad('\"apis\" must be an array of API names (1 to 64 of A-Z a-z 0-9 . _ -)', '/admin/keys'),
 main::bad('\"not_before\" must not be an integer', '/admin/keys'),
 main::bad('\"key\" must not be an integer', '/admin/keys'),
 main::bad('\"disabled\" must not be an integer', "/admin/keys/$main::Id{'acme-key-0001'}"),
 main::bad('\"plan\" must not be a boolean', "/admin/keys/$main::Id{'acme-key-0001'}"),
 main::bad('\"grace\" must not be null', "/admin/keys/$main::Id{'acme-key-0001'}/rotate"),
 (main::bad('the body must be a JSON object')) x 3]
--- after_response eval
main::unchanged(13)
--- no_error_log
[error]
[alert]



=== TEST 3: unknown and repeated fields: 400 naming them
--- request eval
["POST /admin/consumers\n{\"name\":\"x\",\"Name\":\"y\"}",
 "POST /admin/consumers\n{\"name\":\"x\",\"name\":\"y\"}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"id\":\"ak_mine\"}",
 "PATCH /admin/keys/$main::Id{'acme-key-0001'}\n{\"key\":\"new-key-0001\"}",
 "PATCH /admin/consumers/acme\n{\"id\":\"c_x\"}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[(400) x 5]
--- response_body eval
[main::bad('unknown field \"Name\"'),
 main::bad('the field \"name\" is given twice'),
 main::bad('unknown field \"id\"', '/admin/keys'),
 main::bad('unknown field \"key\"', "/admin/keys/$main::Id{'acme-key-0001'}"),
 main::bad('unknown field \"id\"', '/admin/consumers/acme')]
--- after_response eval
main::unchanged(4)
--- no_error_log
[error]
[alert]



=== TEST 4: a 1 MB body with Content-Length: 413 before it is read; a body of the limit passes the check
--- request eval
["POST /admin/consumers\n" . ('x' x 1048576),
 "PATCH /admin/consumers/acme\n" . ('[' x 1048576),
 "POST /small/consumers\n{\"name\":\"" . ('x' x 101) . "\"}",
 "POST /small/consumers\n{\"name\":\"" . ('x' x 88) . "\"}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[413, 413, 413, 400]
--- response_body eval
[main::problem(413, 'Content Too Large', 'the body is larger than 65536 bytes', '/admin/consumers'),
 main::problem(413, 'Content Too Large', 'the body is larger than 65536 bytes', '/admin/consumers/acme'),
 main::problem(413, 'Content Too Large', 'the body is larger than 100 bytes', '/small/consumers'),
 main::bad('\"name\" must be 1 to 64 of A-Z a-z 0-9 . _ -', '/small/consumers')]
--- after_response eval
main::unchanged(3)
--- no_error_log
[error]
[alert]



=== TEST 5: a 1 MB chunked body: 413 once read
--- request eval
"POST /admin/consumers\n" . main::chunked('{"name":"' . ('x' x 1048576) . '"}')
--- more_headers eval
$main::Auth . $main::Json . "Transfer-Encoding: chunked\n"
--- error_code: 413
--- response_body eval
main::problem(413, 'Content Too Large', 'the body is larger than 65536 bytes', '/admin/consumers')
--- after_response eval
main::unchanged(0)
--- no_error_log
[error]
[alert]



=== TEST 6: a small chunked body is read like any other
--- request eval
"POST /admin/consumers\n" . main::chunked('{"name":"chunky","plan":"gold"}')
--- more_headers eval
$main::Auth . $main::Json . "Transfer-Encoding: chunked\n"
--- error_code: 201
--- response_body_like eval
qr/\A\{"name":"chunky","id":"c_[A-Za-z0-9]{11}","plan":"gold",/
--- after_response eval
{ 0 => sub {
    main::apimctl(qw(consumer delete chunky));
    Test::More::is(main::snapshot(), $main::Before, 'the store is as before');
} }
--- no_error_log
[error]
[alert]



=== TEST 7: deep nesting: 400 beyond 16 levels, 16 levels are fine
--- request eval
["POST /admin/consumers\n{\"name\":\"deep\",\"metadata\":{\"a\":" . ('[' x 20) . (']' x 20) . "}}",
 "POST /admin/consumers\n" . ('[' x 100000),
 "POST /admin/consumers\n{\"name\":\"deep\",\"metadata\":{\"a\":" . ('[' x 14) . (']' x 14) . "}}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[400, 413, 201]
--- response_body_like eval
[qr/\A\Q${\ main::bad('the body nests objects and arrays deeper than 16 levels') }\E\z/,
 qr/\A\Q${\ main::problem(413, 'Content Too Large', 'the body is larger than 65536 bytes', '\/admin\/consumers') }\E\z/,
 qr/\A\{"name":"deep",.*"metadata":\{"a":\[{13}\[\]{14}\}\}\n\z/]
--- after_response eval
{ 1 => sub {
    Test::More::is(main::snapshot(), $main::Before, 'the store is unchanged');
  },
  2 => sub { main::apimctl(qw(consumer delete deep)) } }
--- no_error_log
[error]
[alert]



=== TEST 8: invalid UTF-8, in a name, a metadata key, a metadata value: 400
--- request eval
["POST /admin/consumers\n{\"name\":\"\xff\xfe\"}",
 "PATCH /admin/consumers/acme\n{\"metadata\":{\"\xc3\x28\":\"x\"}}",
 "PATCH /admin/consumers/acme\n{\"metadata\":{\"team\":\"\xed\xa0\x80\"}}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"metadata\":{\"n\":\"\xf8\x88\x80\x80\x80\"}}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[main::bad('the body is not valid JSON at field \"name\": lexical error: invalid bytes in UTF8 string'),
 (main::bad('the body is not valid JSON at field \"metadata\": lexical error: invalid bytes in UTF8 string', '/admin/consumers/acme')) x 2,
 main::bad('the body is not valid JSON at field \"metadata\": lexical error: invalid bytes in UTF8 string', '/admin/keys')]
--- after_response eval
main::unchanged(3)
--- no_error_log
[error]
[alert]



=== TEST 9: a body that is not JSON, or not said to be: 415
--- request eval
["POST /admin/consumers\n{\"name\":\"x\"}",
 "POST /admin/consumers\n{\"name\":\"x\"}",
 "PATCH /admin/consumers/acme\nplan=gold"]
--- more_headers eval
[$main::Auth . "Content-Type: text/plain\n", $main::Auth,
 $main::Auth . "Content-Type: application/x-www-form-urlencoded\n"]
--- error_code eval
[415, 415, 415]
--- response_body eval
[main::problem(415, 'Unsupported Media Type', 'the body must be application/json', '/admin/consumers'),
 main::problem(415, 'Unsupported Media Type', 'the body must be application/json', '/admin/consumers'),
 main::problem(415, 'Unsupported Media Type', 'the body must be application/json', '/admin/consumers/acme')]
--- after_response eval
main::unchanged(2)
--- no_error_log
[error]
[alert]



=== TEST 10: JSON media types with parameters, and +json types, are JSON
--- request eval
["PATCH /admin/consumers/acme\n{\"plan\":\"gold\"}",
 "PATCH /admin/consumers/acme\n{\"plan\":\"gold\"}"]
--- more_headers eval
[$main::Auth . "Content-Type: application/json; charset=utf-8\n",
 $main::Auth . "Content-Type: application/merge-patch+json\n"]
--- error_code eval
[200, 200]
--- after_response eval
main::unchanged(1)
--- no_error_log
[error]
[alert]



=== TEST 11: names and ids in paths that no record can have, and long cursors: 404 and 400, no store error
--- request eval
["GET /admin/keys/" . ('a' x 600), "DELETE /admin/consumers/" . ('b' x 65),
 "GET /admin/consumers/a%20b", "GET /admin/keys/ak_x/usage/",
 "GET /admin/consumers?cursor=" . ('YWFh' x 200)]
--- more_headers eval
$main::Auth
--- error_code eval
[404, 404, 404, 404, 400]
--- response_body_like eval
[qr/"title":"Not Found","status":404,"detail":"the admin API has no \\"keys\/a{100}/,
 qr/"title":"Not Found"/,
 qr/\A\Q${\ main::problem(404, 'Not Found', 'the admin API has no \"consumers\/a b\"', '\/admin\/consumers\/a b') }\E\z/,
 qr/\A\Q${\ main::problem(404, 'Not Found', 'the admin API has no \"keys\/ak_x\/usage\/\"', '\/admin\/keys\/ak_x\/usage\/') }\E\z/,
 qr/\A\Q${\ main::bad('\"cursor\" is not a cursor this API returned') }\E\z/]
--- after_response eval
main::unchanged(4)
--- no_error_log
[error]
[alert]



=== TEST 12: a full store: 503 with a problem body, logged once; nothing half-written; reads go on
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-admin-full size=1m;
    apim_plan gold;
--- request
GET /admin/consumers?limit=1
--- more_headers eval
$main::Auth
--- error_code: 200
--- after_response eval
{ 0 => sub {
    my ($res, $n);
    my $meta = '{"m":"' . ('x' x 60000) . '"}';
    for $n (1 .. 100) {
        $res = main::http('POST', '/admin/consumers',
                          { Authorization => 'Bearer admin-token-0123456789',
                            'Content-Type' => 'application/json' },
                          qq({"name":"fill-$n","metadata":$meta}));
        last if $res->{status} != 201;
    }
    Test::More::is($res->{status}, 503, 'the store is full: 503');
    Test::More::is($res->{headers}{'content-type'}, 'application/problem+json',
                   'with a problem body');
    Test::More::like($res->{content},
                     qr/"detail":"the store is full: raise apim_store size=, or delete keys and consumers"/,
                     'saying so');
    $res = main::http('POST', '/admin/consumers',
                      { Authorization => 'Bearer admin-token-0123456789',
                        'Content-Type' => 'application/json' },
                      qq({"name":"fill-again","metadata":$meta}));
    Test::More::is($res->{status}, 503, 'again 503');
    $res = main::http('GET', '/admin/consumers/fill-again',
                      { Authorization => 'Bearer admin-token-0123456789' });
    Test::More::is($res->{status}, 404, 'nothing was written');
    $res = main::http('GET', '/admin/consumers/fill-1',
                      { Authorization => 'Bearer admin-token-0123456789' });
    Test::More::is($res->{status}, 200, 'reads go on');
    open my $fh, '<', main::server_root() . '/logs/error.log' or die $!;
    Test::More::is(scalar(grep { /\[error\].*apim store: the store is full/ } <$fh>),
                   1, 'logged once');
} }
--- no_error_log
[alert]
