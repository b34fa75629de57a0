# apimctl, the command-line tool: every command's output and exit status,
# every error, and the promises about keys (shown once, stored only as an
# HMAC under the secret, never echoed).  Plain Test::More: no nginx needed.
#
#   make tools/apimctl && prove -v t/050-apimctl.t

use strict;
use warnings;

use Test::More;

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Cli;

use File::Copy qw(copy);
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use JSON::PP qw(decode_json);

my $tmp = apimctl_tmp('apimctl-XXXXXX');
my $store = "$tmp/store";

my @keys;       # every key made or imported: none may be in the store


sub store_bytes {
    my ($dir) = @_;

    return join '', map { slurp($_) } grep { !/secret$/ } glob "$dir/*";
}

sub secret_of {
    my ($file) = @_;

    my $s = slurp($file);
    $s =~ s/[\r\n ]+\z//;

    return $s;
}

sub rfc3339 {
    my ($t) = @_;

    my @tm = gmtime $t;

    return sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $tm[5] + 1900,
                   $tm[4] + 1, @tm[3, 2, 1, 0];
}

sub key_add {
    my @args = @_;

    my ($rc, $out, $err) = run('-s', $store, 'key', 'add', @args);

    is($rc, 0, "key add @args: exit 0") or diag $err;

    my ($key) = $out =~ /^(ak_[A-Za-z0-9]{11}_[A-Za-z0-9_-]{43})\n\z/;

    ok($key, "key add @args: the key alone on stdout");

    $key //= '';
    push @keys, $key;

    my $id = substr $key, 0, 14;

    is($err, "apimctl: key $id created; the key is shown only this once\n",
       "key add @args: the note on stderr");

    return ($key, $id);
}

# a file of keys, written as given (no newline is added)

sub key_file {
    my ($name, @text) = @_;

    my $file = "$tmp/$name";

    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh @text;
    close $fh or die "$file: $!";

    return $file;
}

sub lines {
    my ($text) = @_;

    return scalar(() = $text =~ /\n/g);
}

sub mdb_tools {
    return !grep { my $t = $_; !grep { -x "$_/$t" } split /:/, $ENV{PATH} }
           @_;
}


subtest 'help and version' => sub {
    for my $h ('--help', '-h') {
        my ($rc, $out, $err) = run($h);

        is($rc, 0, "$h: exit 0");
        like($out, qr/^usage: apimctl -s <store-dir>/, "$h: usage line");

        for my $cmd ('consumer add', 'consumer list', 'consumer show',
                     'consumer delete <name>', 'key add', 'key import',
                     'key import-file --consumer', 'key list', 'key show',
                     'key revoke', 'usage <id>')
        {
            like($out, qr/^  \Q$cmd\E/m, "$h: lists $cmd");
        }

        is($err, '', "$h: nothing on stderr");
    }

    my ($rc, $out, $err) = run('--version');

    is($rc, 0, '--version: exit 0');
    like($out, qr/^apimctl \d+\.\d+\.\d+\n\z/, '--version: the version');

    ok(!-e $store, 'help and version touch no store');
};


subtest 'bad usage: exit 2, before the store is touched' => sub {
    usage_error('no command', [], qr/^apimctl: no command\n/);
    usage_error('no store', ['consumer', 'list'],
                qr/^apimctl: no store: use -s <dir> or set APIM_STORE\n/);
    usage_error('unknown command', ['-s', $store, 'frobnicate'],
                qr/^apimctl: unknown command "frobnicate"\n/);
    usage_error('unknown subcommand', ['-s', $store, 'key', 'frob'],
                qr/^apimctl: unknown command "key" "frob"\n/);
    usage_error('group alone', ['-s', $store, 'key'],
                qr/^apimctl: "key" needs a command: add, import, import-file, list, show,/);
    usage_error('unknown option', ['-s', $store, 'key', 'list', '--bogus'],
                qr/^apimctl: unknown option "--bogus"\n/);
    usage_error('option without a value',
                ['-s', $store, 'consumer', 'add', 'x', '--plan'],
                qr/^apimctl: --plan needs a value\n/);
    usage_error('option given twice',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'a',
                 '--plan', 'b'],
                qr/^apimctl: --plan is given twice\n/);
    usage_error('option of another command',
                ['-s', $store, 'consumer', 'list', '--plan', 'gold'],
                qr/^apimctl: --plan does not apply to consumer list\n/);
    usage_error('missing argument', ['-s', $store, 'consumer', 'show'],
                qr/^apimctl: consumer show needs a name\n/);
    usage_error('too many arguments',
                ['-s', $store, 'consumer', 'show', 'a', 'b'],
                qr/^apimctl: consumer show: too many arguments\n/);
    usage_error('consumer add without --plan',
                ['-s', $store, 'consumer', 'add', 'x'],
                qr/^apimctl: consumer add needs --plan\n/);
    usage_error('key add without --consumer', ['-s', $store, 'key', 'add'],
                qr/^apimctl: key add needs --consumer\n/);
    usage_error('bad consumer name',
                ['-s', $store, 'consumer', 'add', 'bad name', '--plan', 'p'],
                qr/^apimctl: invalid consumer name "bad name"/);
    usage_error('consumer name too long',
                ['-s', $store, 'consumer', 'add', 'a' x 65, '--plan', 'p'],
                qr/^apimctl: invalid consumer name "a{65}"/);
    usage_error('bad plan name',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'g/old'],
                qr/^apimctl: invalid --plan "g\/old"/);
    usage_error('bad --consumer',
                ['-s', $store, 'key', 'add', '--consumer', 'a:b'],
                qr/^apimctl: invalid --consumer "a:b"/);
    usage_error('bad --apis',
                ['-s', $store, 'key', 'add', '--consumer', 'a',
                 '--apis', 'a,,b'],
                qr/^apimctl: invalid --apis "a,,b"/);
    usage_error('bad --apis name',
                ['-s', $store, 'key', 'add', '--consumer', 'a',
                 '--apis', 'a,b c'],
                qr/^apimctl: invalid --apis "a,b c"/);
    usage_error('--meta without =',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', 'novalue'],
                qr/^apimctl: invalid --meta "novalue": use key=value\n/);
    usage_error('--meta without a key',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', '=v'],
                qr/^apimctl: invalid --meta "=v"/);
    usage_error('--meta key twice',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', 'a=1', '--meta', 'a=2'],
                qr/^apimctl: --meta "a=2": the key is given twice\n/);
    usage_error('--meta not UTF-8',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', "a=\xff\xfe"],
                qr/^apimctl: invalid --meta "a=\\xff\\xfe": not UTF-8/);
    usage_error('--meta too long',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', 'a=' . 'x' x 5000],
                qr/^apimctl: the metadata is too long/);
    usage_error('bad --size', ['-s', $store, '--size', '10x', 'key', 'list'],
                qr/^apimctl: invalid --size "10x"/);
    usage_error('--size too small',
                ['-s', $store, '--size', '512k', 'key', 'list'],
                qr/^apimctl: --size "512k" is too small/);
    usage_error('key id that is not one', ['-s', $store, 'key', 'show', 'x'],
                qr/^apimctl: the argument is not a key id/);

    ok(!-e $store, 'no store was made');
};


subtest 'consumers' => sub {
    my ($rc, $out, $err) = run('-s', $store, 'consumer', 'add', 'alice',
                               '--plan', 'gold', '--meta', 'team=core',
                               '--meta', "note=a \"q\" \\ b\nc\t\x01",
                               '--meta', "name=J\xc3\xbcrgen");

    is($rc, 0, 'consumer add: exit 0') or diag $err;
    is($out, "alice\n", 'consumer add: prints the name');
    is($err, '', 'consumer add: nothing on stderr');

    ok(-d $store, 'the store directory is made');
    is((stat $store)[2] & 07777, 0700, 'the store directory is 0700');
    ok(-f "$store/secret", 'the secret is made');
    is((stat "$store/secret")[2] & 07777, 0600, 'the secret is 0600');
    like(slurp("$store/secret"), qr/^[0-9a-f]{64}\n\z/,
         'the secret is 32 random bytes in hex');

    # the store remembers the secret's fingerprint

    my $fp = substr hmac_sha256_hex('nginx-apim secret fingerprint',
                                    secret_of("$store/secret")), 0, 16;

    ok(index(store_bytes($store), $fp) >= 0,
       'the store holds the secret fingerprint');

    ($rc, $out, $err) = run('-s', $store, '--plan', 'silver', '--',
                            'consumer', 'add', 'bob');

    is($rc, 0, 'options before the command, words after --: exit 0')
        or diag $err;
    is($out, "bob\n", 'the consumer is bob');

    failure('consumer add twice',
            ['-s', $store, 'consumer', 'add', 'alice', '--plan', 'gold'],
            'consumer "alice" exists');

    ($rc, $out, $err) = run('consumer', 'list', '-s', $store);

    is($rc, 0, 'consumer list: exit 0');
    like($out, qr/^alice\tc_[A-Za-z0-9]{11}\tgold\n
                  bob\tc_[A-Za-z0-9]{11}\tsilver\n\z/x,
         'consumer list: name, id, plan');

    my ($alice_id) = $out =~ /^alice\t(\S+)/;

    ($rc, $out, $err) = run('-s', $store, 'consumer', 'show', 'alice');

    is($rc, 0, 'consumer show: exit 0');
    like($out, qr/^name:[ ]alice\nid:[ ]\Q$alice_id\E\nplan:[ ]gold\n
                  created:[ ]\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n
                  metadata:[ ]\{.*\}\n\z/x, 'consumer show: the fields');

    my $created = from_rfc3339(fields($out)->{created});

    ok($created && abs($created - time) < 60, 'consumer show: created now');

    my ($json) = $out =~ /^metadata: (.*)$/m;

    is_deeply(decode_json($json),
              { team => 'core', note => "a \"q\" \\ b\nc\t\x01",
                name => "J\x{fc}rgen" },
              'consumer show: metadata is JSON of the --meta pairs');

    ($rc, $out) = run('-s', $store, 'consumer', 'show', 'bob');

    like($out, qr/^metadata: -$/m, 'consumer show: no metadata');

    failure('consumer show unknown', ['-s', $store, 'consumer', 'show', 'zed'],
            'consumer "zed" not found');

    {
        local $ENV{APIM_STORE} = $store;

        ($rc, $out) = run('consumer', 'list');

        is($rc, 0, 'APIM_STORE names the store');
        like($out, qr/^alice\t/, 'APIM_STORE: the same store');
    }
};


subtest 'keys: add, list, show, usage' => sub {
    my ($key, $id) = key_add('--consumer', 'alice');

    my ($rc, $out, $err) = run('-s', $store, 'key', 'list');

    is($rc, 0, 'key list: exit 0');
    is($out, "$id\talice\t-\tactive\n", 'key list: id, consumer, plan, status');

    ($rc, $out, $err) = run('-s', $store, 'key', 'show', $id);

    is($rc, 0, 'key show: exit 0');
    like($out, qr/^id:[ ]\Q$id\E\nconsumer:[ ]alice\nplan:[ ]-\napis:[ ]-\n
                  created:[ ]\S+Z\nnot_before:[ ]-\nexpires_at:[ ]-\n
                  status:[ ]active\nmetadata:[ ]-\n\z/x,
         'key show: the fields');

    ($rc, $out, $err) = run('-s', $store, 'usage', $id);

    is($rc, 0, 'usage: exit 0');
    is($out, "id: $id\nwindow_start: -\nwindow_end: -\nused: 0\n",
       'usage: no use yet');

    # the record nginx writes: 'U', 1, window_start, window_end, count, tat

  SKIP: {
        skip 'mdb_load is not installed', 3
            unless grep { -x "$_/mdb_load" } split /:/, $ENV{PATH};

        my $rec = pack 'a a q< q< q< q<', 'U', "\x01", 1900000000,
                       1900003600, 42, 123;

        open my $fh, '|-', 'mdb_load', '-T', '-s', 'counters', $store or die;
        print $fh "q:$id\n", (map { sprintf '\\%02x', ord } split //, $rec),
                  "\n";
        close $fh;

        ($rc, $out, $err) = run('-s', $store, 'usage', $id);

        is($rc, 0, 'usage with a record: exit 0') or diag $err;
        is($out, "id: $id\nwindow_start: " . rfc3339(1900000000)
                 . "\nwindow_end: " . rfc3339(1900003600) . "\nused: 42\n",
           'usage: the window and the count');

        open $fh, '|-', 'mdb_load', '-T', '-s', 'counters', $store or die;
        print $fh "q:$id\n\\55\\01\n";
        close $fh;

        ($rc, $out, $err) = run('-s', $store, 'usage', $id);

        is($rc, 1, 'usage with a damaged record: exit 1');
    }

    failure('usage of an unknown key',
            ['-s', $store, 'usage', 'ak_AAAAAAAAAAA'],
            'key "ak_AAAAAAAAAAA" not found');
    failure('key show unknown', ['-s', $store, 'key', 'show', 'ak_AAAAAAAAAAA'],
            'key "ak_AAAAAAAAAAA" not found');
    failure('key add for an unknown consumer',
            ['-s', $store, 'key', 'add', '--consumer', 'ghost'],
            'consumer "ghost" not found');
    failure('key list of an unknown consumer',
            ['-s', $store, 'key', 'list', '--consumer', 'ghost'],
            'consumer "ghost" not found');

    # a key given where an id belongs is not echoed

    ($rc, $out, $err) = run('-s', $store, 'key', 'show', $key);

    is($rc, 2, 'key show <the key>: exit 2');
    unlike($out . $err, qr/\Q$key\E|\Q${\ substr $key, 15}\E/,
           'key show <the key>: the key is not echoed');

    # options, and the key's record

    my ($key2, $id2) = key_add('--consumer', 'bob', '--plan', 'platinum',
                               '--apis', 'orders,billing.v2',
                               '--meta', 'ticket=OPS-1',
                               '--expires', '2099-01-31T00:00:00Z',
                               '--not-before', '2098-01-01T00:00:00Z');

    ($rc, $out) = run('-s', $store, 'key', 'show', $id2);

    is($out, "id: $id2\nconsumer: bob\nplan: platinum\n"
             . "apis: orders,billing.v2\ncreated: " . fields($out)->{created}
             . "\nnot_before: 2098-01-01T00:00:00Z\n"
             . "expires_at: 2099-01-31T00:00:00Z\nstatus: not-yet-valid\n"
             . "metadata: {\"ticket\":\"OPS-1\"}\n", 'key show: every field');

    ($rc, $out) = run('-s', $store, 'key', 'list', '--consumer', 'bob');

    is($out, "$id2\tbob\tplatinum\tnot-yet-valid\n",
       'key list --consumer: only that consumer\'s keys');

    ($rc, $out) = run('-s', $store, 'key', 'list');

    is(scalar(() = $out =~ /\n/g), 2, 'key list: every key');

    for my $k ($key, $key2) {
        unlike($out, qr/\Q$k\E/, 'key list: no key text');
    }
};


subtest 'expiry formats' => sub {
    my %d = (s => 1, m => 60, h => 3600, d => 86400, w => 7 * 86400);

    for my $when ('45s', '15m', '12h', '30d', '2w') {
        my ($n, $u) = $when =~ /^(\d+)(\w)$/;

        my $t0 = time;
        my (undef, $id) = key_add('--consumer', 'alice', '--expires', $when);
        my $t1 = time;

        my (undef, $out) = run('-s', $store, 'key', 'show', $id);
        my $t = from_rfc3339(fields($out)->{expires_at});

        ok($t && $t >= $t0 + $n * $d{$u} && $t <= $t1 + $n * $d{$u},
           "--expires $when: from now");
    }

    for my $case (['2099-01-31T00:00:00Z', '2099-01-31T00:00:00Z'],
                  ['2099-01-31t00:00:00z', '2099-01-31T00:00:00Z'],
                  ['2099-01-31T09:00:00+09:00', '2099-01-31T00:00:00Z'],
                  ['2099-01-30T18:30:00-05:30', '2099-01-31T00:00:00Z'],
                  ['2099-01-31T00:00:00.999Z', '2099-01-31T00:00:00Z'],
                  ['2096-02-29T12:00:00Z', '2096-02-29T12:00:00Z'])
    {
        my ($when, $want) = @$case;

        my (undef, $id) = key_add('--consumer', 'alice', '--expires', $when);
        my (undef, $out) = run('-s', $store, 'key', 'show', $id);

        is(fields($out)->{expires_at}, $want, "--expires $when");
    }

    for my $bad ('tomorrow', '30', '30x', '-5d', '1.5h', '2099-02-30T00:00:00Z',
                 '2097-02-29T00:00:00Z', '2099-01-31', '2099-01-31T24:00:00Z',
                 '2099-01-31T00:00:00', '2099-01-31T00:00:00+0900',
                 '2099-01-31 00:00:00Z', '')
    {
        usage_error("--expires \"$bad\"",
                    ['-s', $store, 'key', 'add', '--consumer', 'alice',
                     '--expires', $bad],
                    qr/^apimctl: invalid --expires "\Q$bad\E": use a time/);
    }

    usage_error('--not-before bad',
                ['-s', $store, 'key', 'add', '--consumer', 'alice',
                 '--not-before', 'soon'],
                qr/^apimctl: invalid --not-before "soon"/);
    usage_error('--expires in the past',
                ['-s', $store, 'key', 'add', '--consumer', 'alice',
                 '--expires', '2001-01-01T00:00:00Z'],
                qr/^apimctl: --expires "2001-01-01T00:00:00Z" is not in the /);
    usage_error('--not-before after --expires',
                ['-s', $store, 'key', 'add', '--consumer', 'alice',
                 '--expires', '1d', '--not-before', '2d'],
                qr/^apimctl: --not-before is not before --expires\n/);

    my (undef, $id) = key_add('--consumer', 'alice', '--expires', '1s',
                              '--not-before', '2001-01-01T00:00:00Z');

    sleep 2;

    my (undef, $out) = run('-s', $store, 'key', 'list', '--consumer', 'alice');

    like($out, qr/^\Q$id\E\talice\t-\texpired$/m, 'key list: expired');

    (undef, $out) = run('-s', $store, 'key', 'show', $id);

    is(fields($out)->{status}, 'expired', 'key show: expired');
    is(fields($out)->{not_before}, '2001-01-01T00:00:00Z',
       'a --not-before in the past');
};


subtest 'import' => sub {
    my $legacy = 'legacy-Key.0123456789';

    my ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                               'alice', '--plan', 'gold', $legacy);

    is($rc, 0, 'key import: exit 0') or diag $err;
    like($out, qr/^ik_[A-Za-z0-9]{11}\n\z/, 'key import: prints the new id');
    unlike($err, qr/\Q$legacy\E/, 'key import: the key is not echoed');

    push @keys, $legacy;

    my ($id) = $out =~ /^(\S+)/;

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'bob', $legacy);

    is($rc, 1, 'import twice: exit 1');
    is($err, "apimctl: this key exists already (id $id)\n",
       'import twice: names the id, not the key');
    is($out, '', 'import twice: nothing on stdout');

    my ($key, $kid) = key_add('--consumer', 'alice');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice', $key);

    is($rc, 1, 'import of a generated key: exit 1');
    is($err, "apimctl: this key exists already (id $kid)\n",
       'import of a generated key: its id');

    # from stdin: kept out of the process list

    my $piped = 'piped-key-0123456789';

    ($rc, $out, $err) = run({ stdin => "$piped\r\n" }, '-s', $store, 'key',
                            'import', '--consumer', 'alice', '-');

    is($rc, 0, 'import from stdin: exit 0') or diag $err;
    like($out, qr/^ik_[A-Za-z0-9]{11}\n\z/, 'import from stdin: the id');

    push @keys, $piped;

    ($rc, $out, $err) = run({ stdin => "$piped\n" }, '-s', $store, 'key',
                            'import', '--consumer', 'alice', '-');

    is($rc, 1, 'import from stdin twice: exit 1');

    # a key may start with "-"

    my $dash = '-dash-key-0123456789';

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice', $dash);

    is($rc, 0, 'import of a key starting with "-": exit 0') or diag $err;
    unlike($out . $err, qr/\Q$dash\E/, 'and it is not echoed');

    push @keys, $dash;

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice', '--', '--dashdash-key-0123');

    is($rc, 0, 'import after --: exit 0') or diag $err;

    push @keys, '--dashdash-key-0123';

    for my $case (['empty', ''],
                  ['too short', 'short77'],
                  ['8 KB long', 'k' x 8192],
                  ['513 bytes', 'k' x 513],
                  ['non-ASCII', "caf\xc3\xa9-key-0123"],
                  ['a high byte', "key-\xff-0123456"],
                  ['a space', 'has space 0123'],
                  ['a control byte', "key\x01-0123456"])
    {
        my ($name, $bad) = @$case;

        ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                                'alice', $bad);

        is($rc, 2, "import of a bad key ($name): exit 2");
        like($err, qr/^apimctl: the key is not valid: a key is 8 to 512 /,
             "import of a bad key ($name): the message");
        ok(length $bad < 4 || index($out . $err, $bad) < 0,
           "import of a bad key ($name): not echoed");

        ($rc, $out, $err) = run({ stdin => $bad }, '-s', $store, 'key',
                                'import', '--consumer', 'alice', '-');

        is($rc, 2, "import of a bad key ($name) from stdin: exit 2");
    }

    ($rc, $out, $err) = run({ stdin => "abcdefgh\0xyz\n" }, '-s', $store,
                            'key', 'import', '--consumer', 'alice', '-');

    is($rc, 2, 'import of a key with a NUL byte from stdin: exit 2');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice', 'k' x 512);

    is($rc, 0, 'import of a 512-byte key: exit 0') or diag $err;

    push @keys, 'k' x 512;

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice');

    is($rc, 2, 'import without a key: exit 2');

    failure('import for an unknown consumer',
            ['-s', $store, 'key', 'import', '--consumer', 'ghost',
             'some-other-key-0123'],
            'consumer "ghost" not found');
};


subtest 'import-file' => sub {
    my @fk = map { "file-key-$_-0123456789" } 1 .. 4;

    # empty lines, \r\n, and a last line without a newline

    my $file = key_file('keys.txt', "$fk[0]\n", "\n", "$fk[1]\r\n", "\r\n",
                        "\n", "$fk[2]\n", $fk[3]);

    my ($rc, $out, $err) = run('-s', $store, 'key', 'import-file',
                               '--consumer', 'alice', '--plan', 'bronze',
                               '--apis', 'orders,billing.v2',
                               '--expires', '2099-01-31T00:00:00Z',
                               '--not-before', '2098-01-01T00:00:00Z',
                               '--meta', 'batch=m1', $file);

    is($rc, 0, 'import-file: exit 0') or diag $err;
    like($out, qr/^(?:ik_[A-Za-z0-9]{11}\n){4}\z/,
         'import-file: an id a key, empty lines skipped');
    is($err, "apimctl: 4 keys read: 4 stored, 0 there already (with the ids "
             . "they had)\n", 'import-file: the count on stderr');

    push @keys, @fk;

    my @ids = split /\n/, $out;

    is(scalar(keys %{{ map { $_ => 1 } @ids }}), 4, 'import-file: 4 ids');

    for my $k (@fk) {
        unlike($out . $err, qr/\Q$k\E/, 'import-file: no key is echoed');
    }

    # the options apply to every key

    for my $id (@ids) {
        (undef, $out) = run('-s', $store, 'key', 'show', $id);

        is($out, "id: $id\nconsumer: alice\nplan: bronze\n"
                 . "apis: orders,billing.v2\ncreated: "
                 . (fields($out)->{created} // '') . "\n"
                 . "not_before: 2098-01-01T00:00:00Z\n"
                 . "expires_at: 2099-01-31T00:00:00Z\nstatus: not-yet-valid\n"
                 . "metadata: {\"batch\":\"m1\"}\n",
           "import-file: key show $id: the options");
    }

    (undef, $out) = run('-s', $store, 'key', 'list', '--consumer', 'alice');

    for my $id (@ids) {
        like($out, qr/^\Q$id\E\talice\tbronze\tnot-yet-valid$/m,
             "import-file: key list has $id");
    }

    # again: the same ids in the same order, nothing new, nothing changed

    my $first = join '', map { "$_\n" } @ids;

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'alice', '--plan', 'gold', $file);

    is($rc, 0, 'import-file twice: exit 0') or diag $err;
    is($out, $first, 'import-file twice: the same ids');
    is($err, "apimctl: 4 keys read: 0 stored, 4 there already (with the ids "
             . "they had)\n", 'import-file twice: nothing stored');

    (undef, $out) = run('-s', $store, 'key', 'show', $ids[0]);

    is(fields($out)->{plan}, 'bronze', 'import-file twice: a key keeps its '
                                       . 'record');

    # the ids in the file's order; keys of "key add" and "key import", even
    # of another consumer, keep theirs; a key twice in a file is one key

    my ($gkey, $gid) = key_add('--consumer', 'bob');
    my $single = 'file-key-single-0123';

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'bob', $single);

    is($rc, 0, 'key import: exit 0') or diag $err;

    my ($sid) = $out =~ /^(ik_\S+)\n/;
    my $new = 'file-key-new-0123456789';

    push @keys, $single, $new;

    $file = key_file('mixed.txt', map { "$_\n" } $fk[3], $new, $gkey, $single,
                     $fk[0], $new, $fk[2]);

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'alice', $file);

    is($rc, 0, 'import-file of old and new keys: exit 0') or diag $err;

    my @mixed = split /\n/, $out;

    is(scalar @mixed, 7, 'import-file of old and new keys: 7 ids');
    is_deeply([@mixed[0, 2, 3, 4, 6]], [$ids[3], $gid, $sid, @ids[0, 2]],
              'import-file: the ids keys had, in the file\'s order');
    like($mixed[1] // '', qr/^ik_[A-Za-z0-9]{11}\z/,
         'import-file: a new key gets a new id');
    ok(!grep({ $_ eq ($mixed[1] // '') } @ids, $gid, $sid),
       'import-file: a new id');
    is($mixed[5], $mixed[1], 'import-file: a key twice has one id');
    is($err, "apimctl: 7 keys read: 1 stored, 6 there already (with the ids "
             . "they had)\n", 'import-file of old and new keys: the count');
    unlike($out . $err, qr/\Q$gkey\E|\Q$new\E|\Q$single\E/,
           'import-file of old and new keys: no key is echoed');

    (undef, $out) = run('-s', $store, 'key', 'show', $gid);

    is(fields($out)->{consumer}, 'bob',
       'import-file: a key of another consumer stays its');

    # a bad line anywhere: nothing is stored, the line is named, not shown

    my (undef, $before) = run('-s', $store, 'key', 'list');

    for my $case (['too short', 'short77'],
                  ['513 bytes', 'k' x 513],
                  ['8 KB long', 'k' x 8192],
                  ['non-ASCII', "caf\xc3\xa9-key-0123"],
                  ['a high byte', "key-\xff-0123456"],
                  ['a space', 'has space 0123'],
                  ['a trailing space', 'trailing-space-0123 '],
                  ['a tab', "has\ttab-0123456"],
                  ['a control byte', "key\x01-0123456"],
                  ['a NUL byte', "abcdefgh\0xyz"],
                  ['a lone CR inside', "cr-inside\r-0123456"])
    {
        my ($name, $bad) = @$case;

        $file = key_file('bad.txt', "file-key-good-0123456\n", "\n",
                         "$fk[0]\n", "$bad\n", "file-key-later-0123456\n");

        ($rc, $out, $err) = run('-s', $store, 'key', 'import-file',
                                '--consumer', 'alice', $file);

        is($rc, 2, "import-file, a bad line ($name): exit 2");
        is($err, "apimctl: line 4 of \"$file\" is not a valid key (a key is "
                 . "8 to 512 printable ASCII characters); nothing was "
                 . "stored\n", "import-file, a bad line ($name): the message");
        is($out, '', "import-file, a bad line ($name): nothing on stdout");
        ok(index($err, $bad) < 0 && index($err, 'file-key-') < 0,
           "import-file, a bad line ($name): no key is echoed");
    }

    # the first line, and the last without a newline

    $file = key_file('bad-first.txt', "bad key 1\n", "file-key-good-0123\n");

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'alice', $file);

    is($rc, 2, 'import-file, a bad first line: exit 2');
    like($err, qr/^apimctl: line 1 of "[^\n]*" is not a valid key/,
         'import-file, a bad first line: line 1');

    $file = key_file('bad-last.txt', "file-key-good-0123\n", "\r\n",
                     "file-key-good-4567\r\n", 'short');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'alice', $file);

    is($rc, 2, 'import-file, a bad last line: exit 2');
    like($err, qr/^apimctl: line 4 of "[^\n]*" is not a valid key/,
         'import-file, a bad last line: line 4');

    # more good lines than a batch before the bad one: still nothing stored

    $file = key_file('bad-late.txt',
                     (map { "file-key-batch-$_-0123\n" } 1 .. 10_500),
                     "bad key\n");

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'alice', $file);

    is($rc, 2, 'import-file, a bad line after a batch: exit 2');
    like($err, qr/^apimctl: line 10501 of "[^\n]*" is not a valid key/,
         'import-file, a bad line after a batch: its number');
    is($out, '', 'import-file, a bad line after a batch: no id');

    my (undef, $after) = run('-s', $store, 'key', 'list');

    is($after, $before, 'import-file: no bad file stored a key');

    # the longest key

    $file = key_file('long.txt', 'k' x 511 . "\n", 'j' x 512 . "\r\n");

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'alice', $file);

    is($rc, 0, 'import-file of 511- and 512-byte keys: exit 0') or diag $err;
    like($out, qr/^(?:ik_[A-Za-z0-9]{11}\n){2}\z/,
         'import-file of 511- and 512-byte keys: 2 ids');

    push @keys, 'k' x 511, 'j' x 512;

    # failures

    $file = key_file('one.txt', "file-key-ghost-0123\n");

    failure('import-file for an unknown consumer',
            ['-s', $store, 'key', 'import-file', '--consumer', 'ghost', $file],
            'consumer "ghost" not found');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'alice', "$tmp/no-such-file");

    is($rc, 1, 'import-file of a missing file: exit 1');
    like($err, qr/^apimctl: cannot open "\Q$tmp\E\/no-such-file": [^\n]+\n\z/,
         'import-file of a missing file: names it');
    is($out, '', 'import-file of a missing file: nothing on stdout');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'alice', $tmp);

    is($rc, 1, 'import-file of a directory: exit 1');
    like($err, qr/^apimctl: cannot read "\Q$tmp\E": [^\n]+\n\z/,
         'import-file of a directory: the message');

    usage_error('import-file without a file',
                ['-s', $store, 'key', 'import-file', '--consumer', 'alice'],
                qr/^apimctl: key import-file needs a file\n/);
    usage_error('import-file without --consumer',
                ['-s', $store, 'key', 'import-file', $file],
                qr/^apimctl: key import-file needs --consumer\n/);
    usage_error('import-file of two files',
                ['-s', $store, 'key', 'import-file', '--consumer', 'alice',
                 $file, $file],
                qr/^apimctl: key import-file: too many arguments\n/);
    usage_error('import-file with a bad --expires',
                ['-s', $store, 'key', 'import-file', '--consumer', 'alice',
                 '--expires', 'soon', $file],
                qr/^apimctl: invalid --expires "soon"/);

    # a file of no keys stores none; the consumer must exist all the same

    for my $case (['empty', ''], ['only empty lines', "\n\r\n\n"]) {
        my ($name, $text) = @$case;

        $file = key_file('none.txt', $text);

        ($rc, $out, $err) = run('-s', $store, 'key', 'import-file',
                                '--consumer', 'alice', $file);

        is($rc, 0, "import-file of an $name file: exit 0") or diag $err;
        is($out, '', "import-file of an $name file: no id");
        is($err, "apimctl: 0 keys read: 0 stored, 0 there already (with the "
                 . "ids they had)\n", "import-file of an $name file: 0 keys");

        ($rc, $out, $err) = run('-s', $store, 'key', 'import-file',
                                '--consumer', 'ghost', $file);

        is($out, '', "import-file of an $name file for an unknown consumer: "
                     . 'no id');

        is($rc, 1, "import-file of an $name file for an unknown "
                   . 'consumer: exit 1');
        is($err, "apimctl: consumer \"ghost\" not found\n",
           "import-file of an $name file for an unknown consumer: the "
           . 'message');
    }

    (undef, $after) = run('-s', $store, 'key', 'list');

    unlike($after, qr/\tghost\t/, 'no key of an unknown consumer');
};


subtest 'import-file: 25,000 keys in batches, then consumer delete' => sub {
    my $big = "$tmp/store-migration";
    my $tag = sprintf 'migr8%08x', int rand 2**32;
    my @mk = map { sprintf '%s-%05d-legacy', $tag, $_ } 1 .. 25_000;

    for my $c ('mig', 'other') {
        my ($rc, $out, $err) = run('-s', $big, 'consumer', 'add', $c,
                                   '--plan', 'p');

        is($rc, 0, "consumer add $c: exit 0") or diag $err;
    }

    my ($rc, $out, $err) = run('-s', $big, 'key', 'import', '--consumer',
                               'other', 'other-key-0123456789');

    my ($oid) = $out =~ /^(ik_\S+)\n/;

    ok($oid, 'a key of another consumer') or diag $err;

    # empty lines and \r\n on some lines: the keys are what counts

    my $file = key_file('migration.txt',
                        map { ($_ % 1000 ? '' : "\n")
                              . $mk[$_] . ($_ % 7 ? "\n" : "\r\n") }
                            0 .. $#mk);

    ($rc, $out, $err) = run('-s', $big, 'key', 'import-file', '--consumer',
                            'mig', '--plan', 'silver', '--apis', 'orders',
                            '--expires', '2099-01-31T00:00:00Z', $file);

    is($rc, 0, 'import-file of 25,000 keys: exit 0') or diag $err;
    is(lines($out), 25_000, 'import-file of 25,000 keys: 25,000 lines');
    ok($out =~ /^(?:ik_[A-Za-z0-9]{11}\n)+\z/,
       'import-file of 25,000 keys: ids only');
    is($err, "apimctl: 25000 keys read: 25000 stored, 0 there already (with "
             . "the ids they had)\n", 'import-file of 25,000 keys: the count');

    my @ids = split /\n/, $out;
    my $ids = $out;

    is(scalar(keys %{{ map { $_ => 1 } @ids }}), 25_000,
       'import-file of 25,000 keys: 25,000 different ids');

    ($rc, $out, $err) = run('-s', $big, 'key', 'list', '--consumer', 'mig');

    is($rc, 0, 'key list --consumer: exit 0') or diag $err;
    is(lines($out), 25_000, 'key list --consumer: 25,000 keys');
    is(scalar(() = $out =~ /^ik_[A-Za-z0-9]{11}\tmig\tsilver\tactive$/mg),
       25_000, 'key list --consumer: each of them mig\'s, silver, active');

    (undef, $out) = run('-s', $big, 'key', 'list');

    is(lines($out), 25_001, 'key list: and the other consumer\'s key');

    # the first and last key of each batch

    my @probe = (0, 9_999, 10_000, 19_999, 20_000, 24_999);

    for my $i (@probe) {
        (undef, $out) = run('-s', $big, 'key', 'show', $ids[$i]);

        my $f = fields($out);

        is(join(' ', map { $f->{$_} // '' } qw(id consumer plan apis
                                                expires_at status)),
           "$ids[$i] mig silver orders 2099-01-31T00:00:00Z active",
           "key show of key $i: the options");
    }

    # HMACs in data.mdb, no key text

    my $secret = secret_of("$big/secret");
    my $bytes = store_bytes($big);

    for my $i (@probe) {
        ok(index($bytes, hmac_sha256($mk[$i], $secret)) >= 0,
           "the HMAC of key $i is in the store");
    }

    ok(index($bytes, $tag) < 0, 'no key text in the store');

    # again, and in another order: the same ids, nothing stored

    ($rc, $out, $err) = run('-s', $big, 'key', 'import-file', '--consumer',
                            'mig', $file);

    is($rc, 0, 'import-file of 25,000 keys again: exit 0') or diag $err;
    ok($out eq $ids, 'import-file again: the same ids');
    is($err, "apimctl: 25000 keys read: 0 stored, 25000 there already (with "
             . "the ids they had)\n", 'import-file again: nothing stored');

    my $rev = key_file('migration-reversed.txt', map { "$_\n" } reverse @mk);

    ($rc, $out, $err) = run('-s', $big, 'key', 'import-file', '--consumer',
                            'mig', $rev);

    is($rc, 0, 'import-file reversed: exit 0') or diag $err;
    ok($out eq join('', map { "$_\n" } reverse @ids),
       'import-file reversed: the ids reversed');

    (undef, $out) = run('-s', $big, 'key', 'list', '--consumer', 'mig');

    is(lines($out), 25_000, 'key list --consumer: still 25,000 keys');

    # consumer delete: 25,000 keys in one transaction; other's stays

    ($rc, $out, $err) = run('-s', $big, 'consumer', 'delete', 'mig');

    is($rc, 0, 'consumer delete of 25,000 keys: exit 0') or diag $err;
    is($out, "mig\n", 'consumer delete: prints the name');
    is($err, '', 'consumer delete: nothing on stderr');

    (undef, $out) = run('-s', $big, 'key', 'list');

    is($out, "$oid\tother\t-\tactive\n", 'key list: the other key alone');

    (undef, $out) = run('-s', $big, 'consumer', 'list');

    like($out, qr/^other\tc_[A-Za-z0-9]{11}\tp\n\z/,
         'consumer list: the other consumer alone');

    for my $i (@probe) {
        failure("key show of deleted key $i",
                ['-s', $big, 'key', 'show', $ids[$i]],
                "key \"$ids[$i]\" not found");
    }

    failure('key list --consumer of the deleted consumer',
            ['-s', $big, 'key', 'list', '--consumer', 'mig'],
            'consumer "mig" not found');

    ($rc, $out, $err) = run('-s', $big, 'key', 'show', $oid);

    is($rc, 0, 'key show of the other key: exit 0') or diag $err;

  SKIP: {
        skip 'mdb_stat is not installed', 2 unless mdb_tools('mdb_stat');

        for my $db ('keys', 'key_ids') {
            open my $p, '-|', 'mdb_stat', '-s', $db, $big or die;
            my $stat = do { local $/; <$p> };
            close $p;

            like($stat, qr/^\s*Entries: 1$/m, "\"$db\" holds one record");
        }
    }

    # a deleted key is no key: it can be imported anew

    my $refile = key_file('reimport.txt', map { "$mk[$_]\n" } @probe);

    ($rc, $out, $err) = run('-s', $big, 'key', 'import-file', '--consumer',
                            'other', $refile);

    is($rc, 0, 'import-file of deleted keys: exit 0') or diag $err;
    is($err, "apimctl: 6 keys read: 6 stored, 0 there already (with the ids "
             . "they had)\n", 'import-file of deleted keys: stored anew');
    ok(!grep({ my $id = $_; grep { $_ eq $id } @ids } split /\n/, $out),
       'import-file of deleted keys: new ids');
};


subtest 'consumer delete that needs a larger map' => sub {
    my $s = "$tmp/store-grow";

    # 10,000 keys among 25,000: deleting them copies most pages, more
    # than the 16m map a new store starts with has free

    my %n = (x => 10_000, y => 15_000);

    for my $c (sort keys %n) {
        my ($rc, undef, $err) = run('-s', $s, 'consumer', 'add', $c,
                                    '--plan', 'p');

        is($rc, 0, "consumer add $c: exit 0") or diag $err;

        my $file = key_file("grow-$c.txt",
                            map { sprintf "%skey-%08d-legacy\n", $c, $_ }
                                1 .. $n{$c});

        ($rc, undef, $err) = run('-s', $s, 'key', 'import-file',
                                 '--consumer', $c, $file);

        is($rc, 0, "import-file of $n{$c} keys for $c: exit 0") or diag $err;
    }

    my ($rc, $out, $err) = run('-s', $s, 'consumer', 'delete', 'x');

    is($rc, 0, 'consumer delete of 10,000 of 25,000 keys: exit 0');
    is($out, "x\n", 'consumer delete: the name');
    is($err, '', 'consumer delete: no message');

    (undef, $out) = run('-s', $s, 'key', 'list');

    is(lines($out), 15_000, 'consumer delete: the 10,000 keys are gone');

    (undef, $out) = run('-s', $s, 'key', 'list', '--consumer', 'y');

    is(lines($out), 15_000, 'the other consumer\'s keys stay');
};


subtest 'import-file into a store that fills up' => sub {
    my $small = "$tmp/store-4m";
    my @size = ('-s', $small, '--size', '4m');
    my $tag = sprintf 'fill%08x', int rand 2**32;
    my @fk = map { sprintf '%s-%05d-legacy', $tag, $_ } 1 .. 25_000;
    my $file = key_file('fill.txt', map { "$_\n" } @fk);

    my ($rc, $out, $err) = run(@size, 'consumer', 'add', 'dave', '--plan',
                               'p');

    is($rc, 0, 'a 4m store') or diag $err;

    ($rc, $out, $err) = run(@size, 'key', 'import-file', '--consumer',
                            'dave', $file);

    my $n = lines($out);

    is($rc, 1, 'import-file into a full store: exit 1');
    ok($n > 0 && $n < 25_000 && $n % 10_000 == 0,
       "import-file into a full store: whole batches are stored ($n)");
    is($err, "apimctl: the store is full (size=4m): revoke keys or raise "
             . "--size\napimctl: $n keys were stored before line "
             . ($n + 1) . "\n", 'import-file into a full store: the message');

    my $stored = $out;

    (undef, $out) = run(@size, 'key', 'list');

    is(lines($out), $n, 'key list: the keys of the stored batches');

    # the same file into a larger copy: the rest, and the ids there were

    my $copy = "$tmp/store-4m-copy";

    mkdir $copy, 0700 or die;

    for my $f ('data.mdb', 'secret') {
        copy("$small/$f", "$copy/$f") or die;
    }

    ($rc, $out, $err) = run('-s', $copy, 'key', 'import-file', '--consumer',
                            'dave', $file);

    is($rc, 0, 'import-file resumed in a larger store: exit 0') or diag $err;
    is(lines($out), 25_000, 'import-file resumed: 25,000 ids');
    ok(substr($out, 0, length $stored) eq $stored,
       'import-file resumed: the ids of the stored batches');
    is($err, "apimctl: 25000 keys read: " . (25_000 - $n) . " stored, $n "
             . "there already (with the ids they had)\n",
       'import-file resumed: the rest stored');

    # deleting needs pages too: consumer delete in the full store

    ($rc, $out, $err) = run(@size, 'consumer', 'delete', 'dave');

    is($rc, 0, 'consumer delete in a full store: exit 0') or diag $err;

    (undef, $out) = run(@size, 'key', 'list');

    is($out, '', 'consumer delete in a full store: no key left');
};


subtest 'the store holds HMACs, never keys' => sub {
    my $secret = secret_of("$store/secret");
    my $bytes = store_bytes($store);

    ok(length $bytes > 0, 'the store has bytes');

    for my $key (@keys) {
        ok(index($bytes, $key) < 0, 'no key text in the store');
        ok(index($bytes, hmac_sha256($key, $secret)) >= 0,
           'the key\'s HMAC-SHA-256 under the secret is');
    }

    for my $key (grep { /^ak_/ } @keys) {
        ok(index($bytes, substr $key, 15) < 0, 'no secret part either');
    }

    # the same HMAC by OpenSSL itself

  SKIP: {
        my $openssl = `openssl version 2>/dev/null`;

        skip 'no openssl', 2 unless $openssl;

        for my $key (@keys[0, 1]) {
            my $hex = unpack 'H*', $secret;
            my $file = "$tmp/hmac.in";

            open my $fh, '>:raw', $file or die;
            print $fh $key;
            close $fh;

            open my $p, '-|', 'openssl', 'dgst', '-sha256', '-mac', 'HMAC',
                 '-macopt', "hexkey:$hex", $file or die;
            my $mac = do { local $/; <$p> };
            close $p;

            like($mac, qr/= \Q${\ hmac_sha256_hex($key, $secret)}\E$/m,
                 'OpenSSL agrees on the HMAC');
        }
    }
};


subtest 'revoke' => sub {
    my ($key, $id) = key_add('--consumer', 'bob');

    my ($rc, $out, $err) = run('-s', $store, 'key', 'revoke', $id);

    is($rc, 0, 'key revoke: exit 0') or diag $err;
    is($out, "$id\n", 'key revoke: prints the id');

    failure('key show after revoke', ['-s', $store, 'key', 'show', $id],
            "key \"$id\" not found");
    failure('key revoke twice', ['-s', $store, 'key', 'revoke', $id],
            "key \"$id\" not found");
    failure('usage after revoke', ['-s', $store, 'usage', $id],
            "key \"$id\" not found");

    ($rc, $out) = run('-s', $store, 'key', 'list');

    unlike($out, qr/\Q$id\E/, 'key list: the key is gone');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'bob', $key);

    is($rc, 0, 'a revoked key can be imported again') or diag $err;
};


subtest 'consumer delete' => sub {
    for my $c ('erin', 'erin2', 'frank') {
        my ($rc, undef, $err) = run('-s', $store, 'consumer', 'add', $c,
                                    '--plan', 'p');

        is($rc, 0, "consumer add $c: exit 0") or diag $err;
    }

    my ($k1, $id1) = key_add('--consumer', 'erin');
    my ($k2, $id2) = key_add('--consumer', 'erin', '--plan', 'gold');

    my $ek = 'erin-imported-0123';

    my ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                               'erin', $ek);

    my ($id3) = $out =~ /^(ik_\S+)\n/;

    ok($id3, 'key import for erin') or diag $err;

    my $file = key_file('erin.txt', "erin-file-key-1-0123\n",
                        "erin-file-key-2-0123\n");

    ($rc, $out, $err) = run('-s', $store, 'key', 'import-file', '--consumer',
                            'erin', $file);

    is($rc, 0, 'key import-file for erin') or diag $err;

    my @erin = ($id1, $id2, $id3, split /\n/, $out);

    is(scalar @erin, 5, 'erin has 5 keys');

    my (undef, $kid) = key_add('--consumer', 'erin2');

    (undef, $out) = run('-s', $store, 'key', 'list', '--consumer', 'erin');

    is(lines($out), 5, 'key list --consumer erin: 5 keys');

    my (undef, $before) = run('-s', $store, 'key', 'list');
    my $others = join '', grep { !/\terin\t/ } split /^/, $before;

    # a usage record of a key of erin's: kept

    my $counted = 0;

  SKIP: {
        skip 'mdb_load is not installed', 1 unless mdb_tools('mdb_load');

        my $rec = pack 'a a q< q< q< q<', 'U', "\x01", 1900000000,
                       1900003600, 7, 123;

        open my $fh, '|-', 'mdb_load', '-T', '-s', 'counters', $store or die;
        print $fh "q:$id1\n", (map { sprintf '\\%02x', ord } split //, $rec),
                  "\n";
        close $fh;

        (undef, $out) = run('-s', $store, 'usage', $id1);

        like($out, qr/^used: 7$/m, 'a usage record of erin\'s key');

        $counted = 1;
    }

    ($rc, $out, $err) = run('-s', $store, 'consumer', 'delete', 'erin');

    is($rc, 0, 'consumer delete: exit 0') or diag $err;
    is($out, "erin\n", 'consumer delete: prints the name');
    is($err, '', 'consumer delete: nothing on stderr');

    for my $id (@erin) {
        failure("key show $id of the deleted consumer",
                ['-s', $store, 'key', 'show', $id], "key \"$id\" not found");
    }

    failure('usage of a key of the deleted consumer',
            ['-s', $store, 'usage', $id2], "key \"$id2\" not found");
    failure('key revoke of a key of the deleted consumer',
            ['-s', $store, 'key', 'revoke', $id3], "key \"$id3\" not found");

    (undef, $out) = run('-s', $store, 'key', 'list');

    is($out, $others, 'key list: every other key, erin\'s gone');
    like($out, qr/^\Q$kid\E\terin2\t/m, 'key list: erin2\'s key stays');

    (undef, $out) = run('-s', $store, 'consumer', 'list');

    unlike($out, qr/^erin\t/m, 'consumer list: erin is gone');
    like($out, qr/^erin2\t/m, 'consumer list: erin2 stays');

    failure('consumer show of the deleted consumer',
            ['-s', $store, 'consumer', 'show', 'erin'],
            'consumer "erin" not found');
    failure('key list --consumer of the deleted consumer',
            ['-s', $store, 'key', 'list', '--consumer', 'erin'],
            'consumer "erin" not found');
    failure('key add for the deleted consumer',
            ['-s', $store, 'key', 'add', '--consumer', 'erin'],
            'consumer "erin" not found');
    failure('consumer delete twice',
            ['-s', $store, 'consumer', 'delete', 'erin'],
            'consumer "erin" not found');
    failure('consumer delete of an unknown consumer',
            ['-s', $store, 'consumer', 'delete', 'ghost'],
            'consumer "ghost" not found');

  SKIP: {
        skip 'mdb_load or mdb_dump is not installed', 1
            unless $counted && mdb_tools('mdb_dump');

        open my $p, '-|', 'mdb_dump', '-p', '-s', 'counters', $store or die;
        my $dump = do { local $/; <$p> };
        close $p;

        like($dump, qr/^ q:\Q$id1\E$/m, 'the usage record is kept');
    }

    # the keys are gone, not hidden: each is a new key to import

    for my $k ($k1, $ek) {
        ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                                'erin2', $k);

        is($rc, 0, 'a key of the deleted consumer can be imported again')
            or diag $err;
        ok($out =~ /^(ik_\S+)\n\z/ && !grep({ $_ eq $1 } @erin),
           'with a new id');
    }

    # a new consumer of the same name has none of the old keys

    ($rc, $out, $err) = run('-s', $store, 'consumer', 'add', 'erin', '--plan',
                            'p');

    is($rc, 0, 'consumer add erin again: exit 0') or diag $err;

    ($rc, $out) = run('-s', $store, 'key', 'list', '--consumer', 'erin');

    is($rc, 0, 'key list --consumer erin: exit 0');
    is($out, '', 'the new erin has no keys');

    # a consumer with no keys

    ($rc, $out, $err) = run('-s', $store, 'consumer', 'delete', 'frank');

    is($rc, 0, 'consumer delete of a consumer with no keys: exit 0')
        or diag $err;
    is($out, "frank\n", 'consumer delete: frank');

    usage_error('consumer delete without a name',
                ['-s', $store, 'consumer', 'delete'],
                qr/^apimctl: consumer delete needs a name\n/);
    usage_error('consumer delete of two',
                ['-s', $store, 'consumer', 'delete', 'a', 'b'],
                qr/^apimctl: consumer delete: too many arguments\n/);
    usage_error('consumer delete of a bad name',
                ['-s', $store, 'consumer', 'delete', 'a/b'],
                qr/^apimctl: invalid consumer name "a\/b"/);
    usage_error('consumer delete --plan',
                ['-s', $store, 'consumer', 'delete', 'erin2', '--plan', 'p'],
                qr/^apimctl: --plan does not apply to consumer delete\n/);
};


subtest 'a key nobody saw is not kept' => sub {
    plan skip_all => 'no /dev/full' unless -e '/dev/full';

    my (undef, $before) = run('-s', $store, 'key', 'list');

    my ($rc, $out, $err) = run({ stdout => '/dev/full' }, '-s', $store,
                               'key', 'add', '--consumer', 'alice');

    is($rc, 1, 'key add to a full stdout: exit 1');
    like($err, qr/^apimctl: cannot write the key to stdout: [^\n]*; key /,
         'key add to a full stdout: the message');
    like($err, qr/; key ak_[A-Za-z0-9]{11} is revoked\n\z/,
         'key add to a full stdout: names the revoked id');

    my (undef, $after) = run('-s', $store, 'key', 'list');

    is($after, $before, 'the key is not in the store');
};


subtest 'the secret' => sub {
    my $other = "$tmp/other-secret";

    open my $fh, '>', $other or die;
    print $fh 'f' x 64, "\n";
    close $fh;

    my ($rc, $out, $err) = run('-s', $store, '--secret', $other, 'key',
                               'list');

    is($rc, 1, 'another secret: exit 1');
    is($err, "apimctl: the secret does not match the one the store's keys "
             . "were hashed with (secret \"$other\")\n",
       'another secret: the message');
    is($out, '', 'another secret: nothing listed');

    my $same = "$tmp/same-secret";

    copy("$store/secret", $same) or die;

    ($rc, $out, $err) = run('-s', $store, '--secret', $same, 'key', 'list');

    is($rc, 0, 'the same secret in another file: exit 0') or diag $err;

    open $fh, '>', "$tmp/short-secret" or die;
    print $fh "too-short\n";
    close $fh;

    failure('a short secret',
            ['-s', $store, '--secret', "$tmp/short-secret", 'key', 'list'],
            "\"$tmp/short-secret\" is too short: a secret needs at least "
            . "16 bytes");

    open $fh, '>', "$tmp/long-secret-2k" or die;
    print $fh 'x' x 2048;
    close $fh;

    failure('a secret over 1024 bytes',
            ['-s', $store, '--secret', "$tmp/long-secret-2k", 'key', 'list'],
            "\"$tmp/long-secret-2k\" is too long: a secret has at most "
            . "1024 bytes");

    ($rc, $out, $err) = run('-s', $store, '--secret', "$tmp/none", 'key',
                            'list');

    is($rc, 1, 'a missing secret: exit 1');
    like($err, qr/^apimctl: cannot open "\Q$tmp\E\/none": /,
         'a missing secret: the message');
    ok(!-e "$tmp/none", 'a --secret file is never made');

    # a secret longer than a SHA-256 block is hashed first (RFC 2104)

    my $store2 = "$tmp/store-long-secret";
    my $long = "$tmp/long-secret";

    open $fh, '>', $long or die;
    print $fh 'L' x 100, "\n";
    close $fh;

    ($rc, $out, $err) = run('-s', $store2, '--secret', $long, 'consumer',
                            'add', 'carol', '--plan', 'p');

    is($rc, 0, 'a new store with a long secret') or diag $err;
    ok(!-e "$store2/secret", 'no secret is made when --secret is given');

    ($rc, $out, $err) = run('-s', $store2, '--secret', $long, 'key', 'add',
                            '--consumer', 'carol');

    my ($key) = $out =~ /^(\S+)\n/;

    ok(index(store_bytes($store2), hmac_sha256($key, 'L' x 100)) >= 0,
       'HMAC with a long secret');

    ($rc, $out, $err) = run('-s', $store2, 'key', 'list');

    is($rc, 1, 'the store\'s own new secret does not match: exit 1');

    ($rc, $out, $err) = run('-s', $long, 'key', 'list');

    is($rc, 1, 'a store that is not a directory: exit 1');
};


subtest 'a full store' => sub {
    my $small = "$tmp/store-small";
    my @size = ('-s', $small, '--size', '1m');
    my $pad = 'x' x 3000;

    my ($rc, $out, $err) = run(@size, 'consumer', 'add', 'dave', '--plan',
                               'p');

    is($rc, 0, 'a 1m store') or diag $err;

    my ($made, $full) = (0, 0);

    for (1 .. 2000) {
        ($rc, $out, $err) = run(@size, 'key', 'add', '--consumer', 'dave',
                                '--meta', "pad=$pad");

        if ($rc != 0) {
            $full = 1;
            last;
        }

        $made++;
    }

    ok($full, "the store fills up (after $made keys)");
    ok($made > 10, 'it took some keys');
    is($rc, 1, 'a full store: exit 1');
    like($err, qr/^apimctl: the store is full \(size=1m\)/,
         'a full store: the message');
    is($out, '', 'a full store: no key printed');

    ($rc, $out, $err) = run(@size, 'key', 'list');

    is($rc, 0, 'key list in a full store: exit 0') or diag $err;
    is(scalar(() = $out =~ /\n/g), $made, 'key list: every key made');

    ($rc, $out, $err) = run(@size, 'key', 'show', $out =~ /^(\S+)/);

    is($rc, 0, 'key show in a full store: exit 0') or diag $err;

    # deletions need pages too (copy-on-write): they must still work

    (undef, $out) = run(@size, 'key', 'list');

    for my $id (($out =~ /^(\S+)/mg)[0 .. 4]) {
        ($rc, undef, $err) = run(@size, 'key', 'revoke', $id);

        is($rc, 0, 'key revoke in a full store: exit 0') or diag $err;
    }

    ($rc, $out, $err) = run(@size, 'key', 'add', '--consumer', 'dave');

    is($rc, 0, 'then a key fits again') or diag $err;
};


done_testing();
