# The shared store with two workers (issue 2): a quota counts every request
# exactly once whichever worker serves it, and what apimctl writes while
# nginx runs (a key revoked, a key imported) holds from the very next
# request in every worker.
#
# The keyed location listens on a port of its own with one socket per
# worker (reuseport); the test server proxies each request to it on a new
# connection, whose source port the kernel hashes to one worker or the
# other.  The protected file names the worker that served it (SSI), and
# each block checks that both workers did.
#
# The store lives beside the server root (Test::Nginx removes the server
# root between blocks) and is provisioned once, below, with keys of fixed
# text; apimctl changes it while a block runs, between two requests.
#
#   prove -I t/lib t/012-store-workers.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl qw(:DEFAULT %Id key);
use ApimTest::Sections;

use File::Path qw(remove_tree);

our $Store = server_root() . '.store-workers';
our %Id;            # key text -> key id


# RFC 9457 body of a refused key

sub invalid_key {
    return '{"type":"about:blank","title":"Unauthorized","status":401,'
           . '"detail":"The API key is not valid.","instance":"/k"}' . "\n";
}


# "--- after_response", "--- workers_seen": t/helpers/ApimTest/Sections.pm

add_sections(qw(after_response workers_seen));


remove_tree($Store);

apimctl(qw(consumer add walter --plan metered));
apimctl(qw(consumer add vera --plan free));

key('worker-key-0001', 'walter');

master_on();
workers(2);

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-workers;
    apim_plan metered quota=100/day quota_window=rolling;
    apim_plan free;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;

        location = /k {
            apim_key;
            ssi on;
            ssi_types text/plain;
            alias $TEST_NGINX_SERVER_ROOT/html/worker.txt;
        }
    }
_EOC_

our $Config = <<'_EOC_';
    location = /k { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
_EOC_

our $UserFiles = <<'_EOC_';
>>> worker.txt
worker <!--# echo var="pid" -->
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

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: both workers count one quota, one less a request; a key revoked with apimctl is refused on the very next request
--- request eval
[("GET /k") x 25]
--- more_headers
X-API-Key: worker-key-0001
--- after_response eval
{ 19 => sub { main::apimctl('key', 'revoke', $main::Id{'worker-key-0001'}) } }
--- error_code eval
[(200) x 20, (401) x 5]
--- response_headers_like eval
[(map { qq{RateLimit-Policy: "quota";q=100;w=86400\n}
        . qq{RateLimit: "quota";r=$_;t=86(?:400|3\\d\\d)\n} } map { 99 - $_ } 0 .. 19),
 (qq{WWW-Authenticate: ApiKey realm="api"\n}
  . qq{Content-Type: application/problem\\+json\nRateLimit:\n}) x 5]
--- response_body_like eval
[(qr/\Aworker \d+\n\z/) x 20, (qr/\A\Q${\ main::invalid_key() }\E\z/) x 5]
--- workers_seen: 2
--- no_error_log
[error]
[alert]



=== TEST 2: a key imported with apimctl works on the very next request, in both workers
--- request eval
[("GET /k") x 21]
--- more_headers
X-API-Key: late-key-0001
--- after_response eval
{ 0 => sub { main::key('late-key-0001', 'vera') } }
--- error_code eval
[401, (200) x 20]
--- response_headers_like eval
[qq{WWW-Authenticate: ApiKey realm="api"\n},
 (qq{WWW-Authenticate:\nContent-Type: text/plain\n}) x 20]
--- response_body_like eval
[qr/\A\Q${\ main::invalid_key() }\E\z/, (qr/\Aworker \d+\n\z/) x 20]
--- workers_seen: 2
--- no_error_log
[error]
[alert]
