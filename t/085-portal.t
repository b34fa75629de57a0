# The developer portal (issue 5) in a real browser: Debian's chromium,
# headless, loads the page from nginx; the page must load with no console
# message at all (a CSP violation or a script error would print one), list
# the configured APIs, filter them by tag and show the usage of a pasted
# key.  The page drives itself when its URL ends in
# "#selftest&tag=<tag>&q=<text>&key=<key>" (what a visitor would do:
# choose the tag, type a search, paste the key, press Show) and writes what
# it saw into the page,
# which chromium's --dump-dom prints.  The results are put in html/ and
# checked by plain requests.  Also the page's headers, its self-containment
# and the nginx -t checks of apim_portal.
#
#   prove -I t/lib t/085-portal.t     (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;

use File::Path qw(remove_tree);
use File::Temp ();
use HTTP::Tiny;
use POSIX ();

our $Store = server_root() . '.store-portal';

sub spew {
    my ($file, $text) = @_;

    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh;
}

# sends $n requests with the key to $uri, as an API client would

sub call {
    my ($uri, $key, $n) = @_;

    my $http = HTTP::Tiny->new(timeout => 5);

    for (1 .. $n) {
        my $res = $http->get('http://127.0.0.1:' . server_port() . $uri,
                             { headers => { 'X-API-Key' => $key } });
        die "GET $uri: $res->{status}" unless $res->{status} == 200;
    }
}

# loads the portal in headless chromium; writes what the page's self-test
# saw to html/selftest.json and every console message to html/console.txt

sub browse {
    my ($fragment) = @_;

    my $dir = File::Temp->newdir('chromium-XXXXXX', TMPDIR => 1);
    my $url = 'http://127.0.0.1:' . server_port() . "/portal$fragment";
    my $log = "$dir/stderr";

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>', "$dir/dom.html" or die "$dir: $!";
        open STDERR, '>', $log or die "$log: $!";
        $ENV{HOME} = "$dir";
        exec 'timeout', '60', 'chromium', '--headless', '--no-sandbox',
             '--disable-gpu', '--disable-background-networking',
             '--disable-component-update', '--disable-sync',
             '--no-first-run', '--disable-dev-shm-usage',
             "--user-data-dir=$dir/profile",
             '--enable-logging=stderr', '--v=0',
             '--virtual-time-budget=20000', '--dump-dom', $url
            or POSIX::_exit(127);
    }

    waitpid $pid, 0;
    die "chromium failed: exit " . ($? >> 8) if $?;

    open my $fh, '<', "$dir/dom.html" or die "$dir/dom.html: $!";
    my $dom = do { local $/; <$fh> };
    close $fh;

    my ($result) = $dom =~ m{<pre id="selftest">(.*?)</pre>}s;
    $result //= 'no self-test result in the page';
    $result =~ s/&lt;/</g;
    $result =~ s/&gt;/>/g;
    $result =~ s/&amp;/&/g;

    open $fh, '<', $log or die "$log: $!";
    my $console = join '', grep { /:CONSOLE[:(]/ } <$fh>;
    close $fh;

    spew(html_dir() . '/selftest.json', "$result\n");
    spew(html_dir() . '/console.txt', $console);
}

remove_tree($Store);

apimctl('consumer', 'add', 'acme', '--plan', 'basic');
apimctl('key', 'import', '--consumer', 'acme', 'portal-key-0001');
apimctl('key', 'import', '--consumer', 'acme', 'portal-key-0002');

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-portal;
    apim_plan basic quota=100/day apis=orders,maps;
    apim_plan gold rate=10r/s quota=100000/month;
_EOC_

our $Config = <<'_EOC_';
    location /orders/ {
        apim_key;
        apim_api orders version=2 "title=Orders API"
                 "description=Place and track orders" tags=commerce,orders
                 owner=team-orders docs=https://docs.example.com/orders;
        empty_gif;
    }

    location /billing/ {
        apim_key;
        apim_api billing version=1 title=Billing tags=commerce,payments
                 deprecated=2020-01-01T00:00:00Z sunset=2099-01-01T00:00:00Z;
        empty_gif;
    }

    location /maps/ {
        apim_key;
        apim_api maps title=Maps "description=Tiles & <places>" tags=geo;
        empty_gif;
    }

    location /apis/ {
        apim_catalogue;
    }

    location = /me {
        apim_usage;
    }

    location = /portal {
        apim_portal "title=Example & Co APIs";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: the page, with a policy that forbids anything but its own style, script and server
--- request
GET /portal
--- error_code: 200
--- response_headers
Content-Type: text/html; charset=utf-8
X-Content-Type-Options: nosniff
Referrer-Policy: no-referrer
--- response_headers_like
Content-Security-Policy: ^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}='; style-src 'sha256-[A-Za-z0-9+/]{43}='; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$
--- response_body_like chomp
\A<!DOCTYPE html>\n<html lang="en">\n.*<title>Example &amp; Co APIs</title>.*<body data-catalogue="/apis/" data-usage="/me">.*</html>\n\z
--- no_error_log
[error]
[alert]



=== TEST 2: the page is self-contained: no external script, style, font or link
--- request
GET /portal
--- error_code: 200
--- response_body_unlike
(?i)https?://|<script[^>]*\ssrc=|<link[^>]*stylesheet|@import|url\(|@font-face
--- no_error_log
[error]
[alert]



=== TEST 3: chromium: no console message, the APIs listed, filtered by tag, searched, a pasted key's usage
--- init
main::call('/orders/1', 'portal-key-0001', 2);
main::browse('#selftest&tag=commerce&q=bill&key=portal-key-0001');
--- request eval
["GET /selftest.json", "GET /console.txt"]
--- error_code eval
[200, 200]
--- response_body eval
["{\"listed\":[\"orders\",\"billing\",\"maps\"],\"filtered\":[\"orders\",\"billing\"],\"searched\":[\"billing\"],\"usage\":[\"quota:2:98\"],\"consumer\":\"acme\"}\n",
 ""]
--- no_error_log
[error]
[alert]



=== TEST 4: chromium: another tag, and the usage of a key never used
--- init
main::browse('#selftest&tag=geo&key=portal-key-0002');
--- request eval
["GET /selftest.json", "GET /console.txt"]
--- error_code eval
[200, 200]
--- response_body eval
["{\"listed\":[\"orders\",\"billing\",\"maps\"],\"filtered\":[\"maps\"],\"searched\":[],\"usage\":[\"quota:0:100\"],\"consumer\":\"acme\"}\n",
 ""]
--- no_error_log
[error]
[alert]



=== TEST 5: chromium: a search by tag text, and a pasted key that is not valid
--- init
main::browse('#selftest&q=GEO&key=no-such-key-0001');
--- request eval
["GET /selftest.json", "GET /console.txt"]
--- error_code eval
[200, 200]
--- response_body eval
["{\"listed\":[\"orders\",\"billing\",\"maps\"],\"filtered\":[],\"searched\":[\"maps\"],\"usage\":\"The API key is not valid.\",\"consumer\":null}\n",
 ""]
--- no_error_log
[error]
[alert]



=== TEST 6: the portal's page counts nothing and needs no key, even under apim_key
--- config
    apim_key;

    location /orders/ {
        apim_api orders;
        empty_gif;
    }

    location /apis/ {
        apim_catalogue;
    }

    location = /me {
        apim_usage;
    }

    location = /portal {
        apim_portal;
    }
--- request
GET /portal
--- error_code: 200
--- response_headers
!WWW-Authenticate
!RateLimit-Policy
--- response_body_like
<title>API portal</title>
--- no_error_log
[error]
[alert]



=== TEST 7: POST: 405
--- request
POST /portal
x
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- no_error_log
[error]
[alert]



=== TEST 8: catalogue= and usage= name the endpoints
--- config
    location /a/ { apim_catalogue; }
    location /b/ { apim_catalogue; }
    location = /u { apim_usage; }
    location = /portal { apim_portal catalogue=/b/ usage=/u; }
--- request
GET /portal
--- error_code: 200
--- response_body_like
<body data-catalogue="/b/" data-usage="/u">
--- no_error_log
[error]
[alert]



=== TEST 9: nginx -t: two catalogues and no catalogue=
--- config
    location /a/ { apim_catalogue; }
    location /b/ { apim_catalogue; }
    location = /u { apim_usage; }
    location = /portal { apim_portal; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: apim_portal in \S+\/nginx\.conf:\d+ needs "catalogue=": there is more than one "apim_catalogue" location$/



=== TEST 10: nginx -t: no usage location and no usage=
--- config
    location /a/ { apim_catalogue; }
    location = /portal { apim_portal; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: apim_portal in \S+\/nginx\.conf:\d+ needs "usage=": there is no "apim_usage" location$/



=== TEST 11: nginx -t: an endpoint on another server
--- config
    location = /portal { apim_portal catalogue=https://apis.example.com/ usage=/me; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid parameter "catalogue=https:\/\/apis.example.com\/": a path on this server, such as "\/apis" in \S+\/nginx\.conf:\d+$/



=== TEST 12: nginx -t: an unknown parameter
--- config
    location = /portal { apim_portal theme=dark; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: invalid parameter "theme=dark" in \S+\/nginx\.conf:\d+$/
