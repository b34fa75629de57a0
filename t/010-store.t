# The shared store (issue 2), in one nginx process: the .so loads into the
# stock nginx; apim_status answers GET and HEAD with the store's facts as
# JSON and refuses other methods; every mistake apim_store can make is
# caught at start-up with the directive, the value and the reason; and
# quota counts written by an exiting worker are read back after a restart.
# (t/011-store-full.t: a store that cannot take more writes;
# t/012-store-workers.t: two workers and apimctl writing at once.)
#
# The stores live beside the server root (Test::Nginx removes the server
# root between blocks): $Store is provisioned once below, with keys of fixed
# text; $Fixtures holds what apim_store must refuse.  The blocks run in
# order: the status block counts the records provisioned here, and the
# restart blocks read what the block before them wrote.
#
#   prove -I t/lib t/010-store.t     (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use File::Path qw(make_path remove_tree);
use File::Temp ();
use JSON::PP ();
use POSIX ();

our $Store = server_root() . '.store';
our $Fixtures = server_root() . '.store-fixtures';
our $Ctl = $ENV{APIMCTL_BIN} // 'tools/apimctl';
our %Id;            # key text -> key id

our $NginxVersion = nginx_version();
our $ModuleVersion = module_version();


# runs a command with the text on its stdin: (exit status, stdout, stderr)

sub run_cmd {
    my ($stdin, @cmd) = @_;

    my ($in, $out, $err) = map { File::Temp->new } 1 .. 3;

    print $in $stdin;
    close $in;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', $in->filename or POSIX::_exit(127);
        open STDOUT, '>&', $out or POSIX::_exit(127);
        open STDERR, '>&', $err or POSIX::_exit(127);
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }

    waitpid $pid, 0;

    return ($? >> 8, file_text($out->filename), file_text($err->filename));
}

sub file_text {
    my ($file) = @_;

    open my $fh, '<:raw', $file or return '';
    local $/;
    my $s = <$fh>;

    return $s // '';
}

# runs apimctl on a store; dies unless it succeeds; returns its stdout

sub apimctl {
    my ($store, @args) = @_;

    my ($rc, $out, $err) = run_cmd('', $Ctl, '-s', $store, @args);

    die "apimctl @args: exit $rc: $err" if $rc;

    $out =~ s/\n\z//;
    return $out;
}

sub mdb_load {
    my ($text, @args) = @_;

    my ($rc, $out, $err) = run_cmd($text, 'mdb_load', @args);

    die "mdb_load @args: exit $rc: $err" if $rc;
}

sub nginx_version {
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';

    my ($v) = `$bin -v 2>&1` =~ m{nginx/(\S+)};

    ($v) = `/usr/sbin/nginx -v 2>&1` =~ m{nginx/(\S+)}
        if !defined $v && !$ENV{TEST_NGINX_BINARY};

    return $v // die "cannot tell the version of $bin";
}

sub module_version {
    my ($v) = file_text('src/ngx_apim_store.h')
              =~ /^#define\s+NGX_APIM_VERSION\s+"([^"]+)"/m
        or die "src/ngx_apim_store.h: no NGX_APIM_VERSION";

    return $v;
}

# the bytes of a store's pages in use, as mdb_stat counts them

sub used_bytes {
    my ($dir) = @_;

    my ($rc, $out, $err) = run_cmd('', 'mdb_stat', '-e', $dir);

    die "mdb_stat -e $dir: exit $rc: $err" if $rc;

    my ($psize) = $out =~ /^\s*Page size: (\d+)$/m;
    my ($pages) = $out =~ /^\s*Number of pages used: (\d+)$/m;

    die "mdb_stat -e $dir: $out" unless $psize && $pages;

    return $psize * $pages;
}

# what apim_status answers for a store directory

sub status {
    my ($dir, %store) = @_;

    return {
        store => {
            path => $dir,
            schema => 'nginx-apim-store/1',
            used_bytes => sub { used_bytes($dir) },
            %store,
        },
        nginx_version => $NginxVersion,
        module_version => $ModuleVersion,
    };
}

# an [emerg] line of a refused configuration, exactly

sub emerg {
    my ($msg) = @_;

    return qr/\[emerg\] \d+#\d+: \Q$msg\E in \S+\/nginx\.conf:\d+$/;
}

# RFC 9457 bodies

sub problem {
    my ($status, $title, $detail, $instance) = @_;

    return qq({"type":"about:blank","title":"$title","status":$status,)
           . qq("detail":"$detail","instance":"$instance"}\n);
}


# "--- response_json eval": the body is JSON and decodes to this structure;
# a code value there is called when the response has arrived (for what
# changes as the store is written, such as its used bytes)

sub resolve {
    my ($v) = @_;

    return $v->() if ref $v eq 'CODE';
    return { map { $_ => resolve($v->{$_}) } keys %$v } if ref $v eq 'HASH';
    return [map { resolve($_) } @$v] if ref $v eq 'ARRAY';
    return $v;
}

add_response_body_check(sub {
    my ($block, $body, $idx) = @_;

    return unless $block->can('response_json')
                  && defined $block->response_json;

    my $expected = resolve($block->response_json);
    my $got = eval { JSON::PP->new->decode($body) };

    Test::More::is_deeply($got, $expected,
                          $block->name . " - response_json (req $idx)")
        or Test::More::diag("body: $body");
});


# the stores: a provisioned one, and the ones apim_store must refuse

remove_tree($Store, $Fixtures);

apimctl($Store, qw(consumer add alice --plan gold));
apimctl($Store, qw(consumer add carol --plan metered));

for (['status-key-0001', 'alice'], ['status-key-0002', 'alice'],
     ['persist-key-0001', 'carol'])
{
    my ($key, $consumer) = @$_;

    $Id{$key} = apimctl($Store, 'key', 'import', '--consumer', $consumer,
                        $key);
}

make_path("$Fixtures/foreign", "$Fixtures/garbage", "$Fixtures/readonly");

# a regular file where the directory should be
open my $fh, '>', "$Fixtures/file" or die "$Fixtures/file: $!";
print $fh "not a directory\n";
close $fh;

# another program's LMDB environment: a record in the main database only
mdb_load("key\nvalue\n", '-T', "$Fixtures/foreign");

# a data.mdb that is no LMDB file at all
open $fh, '>', "$Fixtures/garbage/data.mdb" or die "data.mdb: $!";
print $fh 'x' x 16384;
close $fh;

# a store of a later schema: ours, with its meta record changed
apimctl("$Fixtures/schema2", qw(consumer add dave --plan gold));
mdb_load("schema\nnginx-apim-store/2\n", '-T', '-s', 'meta',
         "$Fixtures/schema2");

# (refused only when nginx does not run as root, which may write anywhere)
chmod 0500, "$Fixtures/readonly";

no_shuffle();

END {
    remove_tree($Store, $Fixtures) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: the .so loads into the stock nginx; apim_status answers GET with the store's facts as JSON
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store size=64m;
--- config
    location = /status { apim_status; }
--- request
GET /status
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_json eval
main::status($main::Store, size => 67108864, map_bytes => 16777216,
             records => { consumers => 2, keys => 3, key_ids => 3,
                          counters => 0, policies => 0, analytics => 0 })
--- no_error_log
[error]
[alert]



=== TEST 2: apim_status answers HEAD with the headers alone
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store size=64m;
--- config
    location = /status { apim_status; }
--- request
HEAD /status
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body eval
""
--- no_error_log
[error]
[alert]



=== TEST 3: apim_status refuses POST: 405, Allow and a problem body
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store;
--- config
    location = /status { apim_status; }
--- request
POST /status
{"a":1}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: application/problem+json
--- response_body eval
main::problem(405, 'Method Not Allowed',
              'The status endpoint answers GET and HEAD.', '/status')
--- no_error_log
[error]
[alert]



=== TEST 4: a missing store directory is made with its parents; a new store is empty, its map no bigger than size=
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-fixtures/new/deep/store/ size=1m zone=32k flush=10ms;
--- config
    location = /status { apim_status; }
--- post_setup_server_root
File::Path::remove_tree("$main::Fixtures/new");
--- request
GET /status
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_json eval
main::status("$main::Fixtures/new/deep/store",
             size => 1048576, map_bytes => 1048576,
             records => { consumers => 0, keys => 0, key_ids => 0,
                          counters => 0, policies => 0, analytics => 0 })
--- no_error_log
[error]
[alert]



=== TEST 5: apim_store size= must be a size
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store size=abc;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('invalid store size "size=abc", it must be at least 1m')



=== TEST 6: apim_store size= below 1m
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store size=10k;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('invalid store size "size=10k", it must be at least 1m')



=== TEST 7: apim_store with an unknown parameter
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store foo=1;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('invalid parameter "foo=1"')



=== TEST 8: apim_store zone= below 32k
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store zone=1k;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('invalid zone size "zone=1k", it must be at least 32k')



=== TEST 9: apim_store flush= below 10ms
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store flush=1ms;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('invalid flush interval "flush=1ms", it must be at least 10ms')



=== TEST 10: apim_store with an empty path
--- http_config
    apim_store "";
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('apim_store needs a directory, not ""')



=== TEST 11: apim_store naming a regular file
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-fixtures/file;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg(qq{apim_store "$main::Fixtures/file" is not a directory})



=== TEST 12: apim_store naming another program's LMDB environment
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-fixtures/foreign;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg(qq{apim_store "$main::Fixtures/foreign": the LMDB environment }
            . q{is not an apim store (no "meta" database) }
            . q{(-30798: MDB_NOTFOUND: No matching key/data pair found)})



=== TEST 13: apim_store naming a directory whose data.mdb is no LMDB file
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-fixtures/garbage;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg(qq{apim_store "$main::Fixtures/garbage": "$main::Fixtures/garbage" }
            . q{holds an LMDB file that is not an apim store }
            . q{(-30793: MDB_INVALID: File is not an LMDB file)})



=== TEST 14: apim_store naming a store of another schema version
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-fixtures/schema2;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg(qq{apim_store "$main::Fixtures/schema2": the store has schema }
            . q{"nginx-apim-store/2", this module reads "nginx-apim-store/1" }
            . q{(-30784: MDB_INCOMPATIBLE: Operation and DB incompatible, }
            . q{or DB flags changed)})



=== TEST 15: apim_store naming a directory nginx may not write
(as root nginx may write anywhere: this runs only when the tests do not run
as root)
--- skip_eval: 2: $> == 0
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-fixtures/readonly;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg(qq{apim_store "$main::Fixtures/readonly" is not writable }
            . q{(13: Permission denied)})



=== TEST 16: apim_store twice
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store;
    apim_store $TEST_NGINX_SERVER_ROOT.store;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('"apim_store" directive is duplicate')



=== TEST 17: apim_status without apim_store
--- config
    location = /status { apim_status; }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('"apim_status" directive needs "apim_store" before it in the '
            . 'http block')



=== TEST 18: apim_key without apim_store
--- config
    location /k { apim_key; empty_gif; }
--- must_die
--- suppress_stderr
--- error_log eval
main::emerg('"apim_key" directive needs "apim_store" before it in the '
            . 'http block')



=== TEST 19: quota counts are kept in shared memory while nginx runs (the next block reads them back)
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store flush=1h;
    apim_plan metered quota=100/day quota_window=rolling;
--- config
    location /k { apim_key; empty_gif; }
--- request eval
["GET /k", "GET /k", "GET /k"]
--- more_headers
X-API-Key: persist-key-0001
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
[map { qq{Content-Type: image/gif\n}
       . qq{RateLimit-Policy: "quota";q=100;w=86400\n}
       . qq{RateLimit: "quota";r=$_;t=86(?:400|3\\d\\d)\n} } 99, 98, 97]
--- no_error_log
[error]
[alert]



=== TEST 20: after a restart the count goes on from what the exiting worker wrote; the key still works
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store flush=1h;
    apim_plan metered quota=100/day quota_window=rolling;
--- config
    location /k { apim_key; empty_gif; }
--- request
GET /k
--- more_headers
X-API-Key: persist-key-0001
--- error_code: 200
--- response_headers_like
Content-Type: image/gif
RateLimit-Policy: "quota";q=100;w=86400
RateLimit: "quota";r=96;t=86(?:400|3\d\d)
--- no_error_log
[error]
[alert]
