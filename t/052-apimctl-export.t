# apimctl export and import (issue 4, declarative state): the export file
# (its fields, its order, byte for byte the same twice, never a key nor the
# secret), import into a fresh store giving the same answers and the same
# export, importing twice changing nothing, the file winning over the
# store (revoked keys back, ids and HMACs moved), --prune, a file of
# another secret refused, and every bad file changing nothing.  Plain
# Test::More: t/053 shows nginx answering from an imported store.
#
#   make tools/apimctl && prove -v t/052-apimctl-export.t

use strict;
use warnings;

use Test::More;

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Cli;

use File::Copy qw(copy);
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP ();

my $tmp = apimctl_tmp('apimctl-export-XXXXXX');
my $src = "$tmp/src";
my $json = JSON::PP->new->utf8->canonical;

my %keys;       # id => key, of the source store


sub spew {
    my ($file, $text) = @_;

    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $text;
    close $fh or die "$file: $!";

    return $file;
}

sub ok_run {
    my ($name, @args) = @_;

    my ($rc, $out, $err) = run(@args);

    is($rc, 0, "$name: exit 0") or diag $err;

    return $out;
}

sub export_of {
    my ($store) = @_;

    return ok_run("export of $store", '-s', $store, 'export');
}

# a fresh store with the source's secret

sub fresh {
    my ($name) = @_;

    my $dir = "$tmp/$name";

    mkdir $dir or die "$dir: $!";
    copy("$src/secret", "$dir/secret") or die "copy: $!";
    chmod 0600, "$dir/secret";

    return $dir;
}

sub changed {
    my ($out) = @_;

    return { map { /^([a-z_]+): (\d+)$/ ? ($1, $2) : () } split /\n/, $out };
}

# a usage record as nginx writes it (version 1: generation 0)

sub put_usage {
    my ($store, $id, $start, $end, $count, $tat) = @_;

    my $rec = pack 'a a q< q< q< q<', 'U', "\x01", $start, $end, $count,
                   $tat;

    open my $fh, '|-', 'mdb_load', '-T', '-s', 'counters', $store or die;
    print $fh "q:$id\n", (map { sprintf '\\%02x', ord } split //, $rec), "\n";
    close $fh or die "mdb_load: $?";
}

sub have_mdb_load {
    return grep { -x "$_/mdb_load" } split /:/, $ENV{PATH};
}


# the source store: two consumers, keys of every kind, usage

ok_run('consumer add', '-s', $src, 'consumer', 'add', 'zoe', '--plan',
       'gold', '--meta', "note=a \"q\" \\ b\nc", '--meta', "who=J\xc3\xbcrgen");
ok_run('consumer add', '-s', $src, 'consumer', 'add', 'adam', '--plan',
       'free');

for my $args (['--consumer', 'zoe'],
              ['--consumer', 'zoe', '--plan', 'silver', '--apis', 'a,b',
               '--expires', '2031-01-02T03:04:05Z', '--not-before',
               '2020-01-01T00:00:00Z', '--meta', 'app=web'],
              ['--consumer', 'adam'])
{
    my $out = ok_run('key add', '-s', $src, 'key', 'add', @$args);
    chomp $out;
    $keys{substr $out, 0, 14} = $out;
}

{
    my $out = ok_run('key import', '-s', $src, 'key', 'import', '--consumer',
                     'adam', 'imported-key-0001');
    chomp $out;
    $keys{$out} = 'imported-key-0001';
}

my @ids = sort keys %keys;
my $have_usage = have_mdb_load();

put_usage($src, $ids[0], 1900000000, 1900086400, 42, 1234567)
    if $have_usage;


subtest 'bad usage of export and import: exit 2' => sub {
    for my $case (
        [['import'], qr/^apimctl: import needs a file\n/],
        [['import', 'a', 'b'], qr/^apimctl: import: too many arguments\n/],
        [['import', '--prune=yes', 'a'],
         qr/^apimctl: --prune takes no value\n/],
        [['export', 'x'], qr/^apimctl: export: too many arguments\n/],
        [['export', '--output', ''], qr/^apimctl: --output needs a file\n/],
        [['export', '--prune'],
         qr/^apimctl: --prune does not apply to export\n/],
        [['import', '--output', 'x', 'f'],
         qr/^apimctl: --output does not apply to import\n/])
    {
        my ($rc, $out, $err) = run('-s', "$tmp/none", @{ $case->[0] });

        is($rc, 2, "@{ $case->[0] }: exit 2");
        like($err, $case->[1], "@{ $case->[0] }: the message");
        like($err, qr/\n\Q$Hint\E\z/, "@{ $case->[0] }: the hint");
    }

    ok(!-e "$tmp/none", 'no store was made');
};


my $export = export_of($src);
my $doc = eval { JSON::PP->new->utf8->decode($export) };

subtest 'the export file' => sub {
    ok($doc, 'it is JSON') or diag $@;

    is(export_of($src), $export, 'two exports are the same bytes');

    my ($rc, $out, $err) = run('-s', $src, 'export', '--output',
                               "$tmp/e.json");

    is($rc, 0, '--output: exit 0') or diag $err;
    is($out, '', '--output: nothing on stdout');
    is(slurp("$tmp/e.json"), $export, '--output: the same bytes as stdout');
    is((stat "$tmp/e.json")[2] & 07777, 0600, '--output: mode 0600');
    ok(!glob("$tmp/e.json.*"), 'no temporary file left');

    ($rc, $out, $err) = run('-s', $src, 'export', '-o', "$tmp/no/e.json");

    is($rc, 1, 'an --output that cannot be written: exit 1');
    like($err, qr/^apimctl: cannot create a file beside "\Q$tmp\E\/no\/e.json"/,
         'the message');

    like($export, qr/\A\{\n  "format": "nginx-apim-export\/1",\n  "schema": "nginx-apim-store\/1",\n  "secret_fp": "[0-9a-f]{16}",\n  "consumers": \[\n/,
         'the head, in order, two spaces an indent');
    like($export, qr/\n\}\n\z/, 'ends with a newline');

    my (undef, $status) = run('-s', $src, 'status');
    my ($fp) = $status =~ /^secret_fp: (\S+)$/m;

    is($doc->{secret_fp}, $fp, 'the secret\'s fingerprint');

    is_deeply([map { $_->{name} } @{ $doc->{consumers} }], ['adam', 'zoe'],
              'consumers in name order');
    is_deeply([map { $_->{id} } @{ $doc->{keys} }], \@ids,
              'keys in id order');

    my ($zoe) = grep { $_->{name} eq 'zoe' } @{ $doc->{consumers} };

    is_deeply([sort keys %$zoe],
              [qw(created flags id metadata name plan)], 'consumer fields');
    is_deeply($zoe->{metadata},
              { note => "a \"q\" \\ b\nc", who => "J\x{fc}rgen" },
              'consumer metadata, an object');
    like($zoe->{id}, qr/^c_[A-Za-z0-9]{11}\z/, 'consumer id');
    like($zoe->{created}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\z/,
         'created, RFC 3339');

    my $secret = slurp("$src/secret");
    $secret =~ s/[\r\n ]+\z//;

    for my $k (@{ $doc->{keys} }) {
        is_deeply([sort keys %$k],
                  [qw(apis consumer created expires_at flags hmac id
                      metadata not_before plan usage)],
                  "$k->{id}: the fields");
        is($k->{hmac}, hmac_sha256_hex($keys{ $k->{id} }, $secret),
           "$k->{id}: the HMAC of its key, hex");
        ok(index($export, $keys{ $k->{id} }) < 0,
           "$k->{id}: the key is nowhere in the file");
    }

    ok(index($export, $secret) < 0, 'the secret is nowhere in the file');

    my ($full) = grep { defined $_->{plan} } @{ $doc->{keys} };

    is_deeply($full, { %$full, plan => 'silver', apis => ['a', 'b'],
                       expires_at => '2031-01-02T03:04:05Z',
                       not_before => '2020-01-01T00:00:00Z',
                       metadata => { app => 'web' }, consumer => 'zoe',
                       flags => 0 },
              'a key with every field');

    my ($bare) = grep { $_->{consumer} eq 'zoe' && !defined $_->{plan} }
                 @{ $doc->{keys} };

    is_deeply([@$bare{qw(plan apis not_before expires_at metadata)}],
              [undef, undef, undef, undef, undef],
              'a key\'s unset fields are null');

  SKIP: {
        skip 'mdb_load is not installed', 2 unless $have_usage;

        is_deeply($doc->{keys}[0]{usage},
                  { window_start => '2030-03-17T17:46:40Z',
                    window_end => '2030-03-18T17:46:40Z',
                    count => 42, tat => 1234567 },
                  'usage: the window, the count, the rate state');
        is($doc->{keys}[1]{usage}, undef, 'no usage: null');
    }
};


subtest 'import into a fresh store: the same state' => sub {
    my $dst = fresh('dst');

    my ($rc, $out, $err) = run('-s', $dst, 'import', "$tmp/e.json");

    is($rc, 0, 'import: exit 0') or diag $err;
    is($err, '', 'nothing on stderr');
    is_deeply(changed($out),
              { consumers_changed => 2, keys_changed => 4,
                usage_changed => $have_usage ? 1 : 0, removed => 0,
                changed => 6 + ($have_usage ? 1 : 0) },
              'every record written');
    like($out, qr/\Aconsumers_changed: \d+\nkeys_changed: \d+\nusage_changed: \d+\nremoved: \d+\nchanged: \d+\n\z/,
         'the report');

    is(export_of($dst), $export, 'its export is the same bytes');

    for my $cmd (['consumer', 'list'], ['key', 'list'],
                 ['consumer', 'show', 'zoe'],
                 (map { ['key', 'show', $_] } @ids),
                 (map { ['usage', $_] } @ids))
    {
        is((run('-s', $dst, @$cmd))[1], (run('-s', $src, @$cmd))[1],
           "@$cmd: the same answer");
    }

    ($rc, $out, $err) = run('-s', $dst, 'import', "$tmp/e.json");

    is($rc, 0, 'a second import: exit 0') or diag $err;
    is(changed($out)->{changed}, 0, 'a second import changes nothing');

    my $db = slurp("$dst/data.mdb");

    ($rc, $out) = run('-s', $dst, 'import', "$tmp/e.json");

    is(changed($out)->{changed}, 0, 'nor does a third');

    ($rc, $out, $err) = run('-s', $src, 'import', "$tmp/e.json");

    is($rc, 0, 'import into the store it came from') or diag $err;
    is(changed($out)->{changed}, 0, 'changes nothing');
    is(export_of($src), $export, 'and the export stays');

    ($rc, $out, $err) = run({ stdin => $export }, '-s', $dst, 'import', '-');

    is($rc, 0, 'import from stdin ("-")') or diag $err;
    is(changed($out)->{changed}, 0, 'the same file: nothing changed');
};


subtest 'the file wins: declarative state' => sub {
    my $dst = fresh('decl');

    ok_run('import', '-s', $dst, 'import', "$tmp/e.json");

    # changed here, then the file again

    ok_run('revoke', '-s', $dst, 'key', 'revoke', $ids[1]);
    ok_run('consumer update', '-s', $dst, 'consumer', 'update', 'zoe',
           '--plan', 'other', '--meta', 'x=1');
    ok_run('key update', '-s', $dst, 'key', 'update', $ids[2], '--expires',
           '1d');
    ok_run('consumer add', '-s', $dst, 'consumer', 'add', 'extra', '--plan',
           'p');

    my $extra = ok_run('key add', '-s', $dst, 'key', 'add', '--consumer',
                       'extra');

    my ($rc, $out, $err) = run('-s', $dst, 'import', "$tmp/e.json");

    is($rc, 0, 'import over the changes') or diag $err;
    is_deeply(changed($out),
              { consumers_changed => 1, keys_changed => 2,
                usage_changed => 0, removed => 0, changed => 3 },
              'the consumer, the revoked key and the updated key');

    my $after = export_of($dst);

    like($after, qr/"name": "extra"/, 'what the file lacks stays');

    ($rc, $out) = run('-s', $dst, 'key', 'show', $ids[1]);

    is($rc, 0, 'the revoked key is back');

    ($rc, $out, $err) = run('-s', $dst, 'import', '--prune', "$tmp/e.json");

    is($rc, 0, 'import --prune') or diag $err;
    is_deeply(changed($out),
              { consumers_changed => 0, keys_changed => 0,
                usage_changed => 0, removed => 2, changed => 2 },
              '--prune removes the key and the consumer the file lacks');
    is(export_of($dst), $export, 'then the store is the file');

    ($rc, $out) = run('-s', $dst, 'import', '--prune', "$tmp/e.json");

    is(changed($out)->{changed}, 0, 'a second --prune changes nothing');

    # an id that has another key here, and a key that has another id

    my $moved = $json->decode($export);
    my $k0 = $moved->{keys}[0];
    my $k1 = $moved->{keys}[1];

    ($k0->{hmac}, $k1->{hmac}) = ($k1->{hmac}, $k0->{hmac});
    $k0->{usage} = $k1->{usage} = undef;

    spew("$tmp/moved.json", $json->encode($moved));

    ($rc, $out, $err) = run('-s', $dst, 'import', "$tmp/moved.json");

    is($rc, 0, 'import of swapped HMACs') or diag $err;

    ($rc, $out) = run('-s', $dst, 'status');

    like($out, qr/^keys: 4\nkey_ids: 4$/m, 'still a record per key and id');

    my $re = $json->decode((run('-s', $dst, 'export'))[1]);

    is($re->{keys}[0]{hmac}, $k0->{hmac}, 'the first id has its new HMAC');
    is($re->{keys}[1]{hmac}, $k1->{hmac}, 'the second too');
};


subtest 'a file of another secret is refused' => sub {
    my $other = "$tmp/other";

    my ($rc, $out, $err) = run('-s', $other, 'import', "$tmp/e.json");

    my (undef, $status) = run('-s', $other, 'status');
    my ($fp) = $status =~ /^secret_fp: (\S+)$/m;

    is($rc, 1, 'exit 1');
    is($err, "apimctl: \"$tmp/e.json\" was exported from a store whose "
             . "secret has the fingerprint \"$doc->{secret_fp}\", and this "
             . "store's secret has \"$fp\": its HMACs would match no key "
             . "here; give --secret the secret file of the store it came "
             . "from; nothing was imported\n", 'the message');
    is($out, '', 'nothing on stdout');
    like($status, qr/^consumers: 0\nkeys: 0$/m, 'nothing was imported');

    my $with = "$tmp/with-secret";

    ($rc, $out, $err) = run('-s', $with, '--secret', "$src/secret", 'import',
                            "$tmp/e.json");

    is($rc, 0, 'the same secret by --secret: imported') or diag $err;
};


subtest 'a bad file changes nothing' => sub {
    my $dst = fresh('bad');

    ok_run('import', '-s', $dst, 'import', "$tmp/e.json");
    ok_run('revoke', '-s', $dst, 'key', 'revoke', $ids[0]);

    my $before = export_of($dst);
    my $n = 0;

    # the key with every field set: its index in id order

    my ($f) = grep { defined $doc->{keys}[$_]{expires_at} }
              0 .. $#{ $doc->{keys} };

    my $bad = sub {
        my ($name, $text, $msg) = @_;

        my $file = spew("$tmp/bad" . ++$n . '.json', $text);
        my ($rc, $out, $err) = run('-s', $dst, 'import', $file);

        is($rc, 1, "$name: exit 1");

        if (ref $msg) {
            like($err, $msg, "$name: the message");

        } else {
            is($err, "apimctl: \"$file\": $msg; nothing was imported\n",
               "$name: the message");
        }

        is($out, '', "$name: nothing on stdout");
    };

    # a file made from the good one, changed by $edit

    my $edited = sub {
        my ($name, $edit, $msg) = @_;

        my $d = $json->decode($export);
        $edit->($d);

        $bad->($name, $json->encode($d), $msg);
    };

    $bad->('not JSON', '{"format": ',
           qr/^apimctl: "\Q$tmp\E\/bad\d+\.json" is not JSON: .+; nothing was imported\n\z/);
    $bad->('truncated', substr($export, 0, length($export) / 2),
           qr/is not JSON: .*premature EOF.*; nothing was imported\n\z/);
    $bad->('invalid UTF-8', $export =~ s/"adam"/"ad\xffm"/r,
           qr/is not JSON: .*; nothing was imported\n\z/);
    $bad->('a zero byte', "{\0}", qr/is not JSON: a zero byte in the text;/);
    $bad->('an array', '[]', 'the file: not an object');
    $bad->('empty', '',
           qr/^apimctl: "[^"]+" is not JSON: parse error: premature EOF; nothing was imported\n\z/);
    $bad->('trailing garbage', $export . '}',
           qr/ is not JSON: parse error: trailing garbage; nothing was imported\n\z/);

    $edited->('no format', sub { delete $_[0]{format} },
              'the file: no field "format"');
    $edited->('another format', sub { $_[0]{format} = 'x/1' },
              'format: not "nginx-apim-export/1" (not a file of apimctl '
              . 'export)');
    $edited->('another schema', sub { $_[0]{schema} = 'nginx-apim-store/9' },
              'schema: "nginx-apim-store/9", this apimctl writes '
              . '"nginx-apim-store/1"');
    $edited->('an unknown field', sub { $_[0]{extra} = 1 },
              'the file: unknown field "extra"');
    $edited->('consumers not an array', sub { $_[0]{consumers} = {} },
              'consumers: not an array');
    $edited->('a bad consumer name', sub { $_[0]{consumers}[1]{name} = 'a b' },
              'consumers[1].name: not a name (1 to 64 characters of A-Z '
              . 'a-z 0-9 . _ -)');
    $edited->('a bad consumer id', sub { $_[0]{consumers}[0]{id} = 'x' },
              'consumers[0].id: not a consumer id ("c_" and 11 letters or '
              . 'digits)');
    $edited->('a consumer without a plan',
              sub { delete $_[0]{consumers}[0]{plan} },
              'consumers[0]: no field "plan"');
    $edited->('consumer metadata not an object',
              sub { $_[0]{consumers}[0]{metadata} = [1] },
              'consumers[0].metadata: not an object or null');
    $edited->('consumer flags negative',
              sub { $_[0]{consumers}[0]{flags} = -1 },
              'consumers[0].flags: not an integer from 0 to 4294967295');
    $edited->('a bad HMAC', sub { $_[0]{keys}[2]{hmac} = 'abc' },
              'keys[2].hmac: not 64 hex digits');
    $edited->('a bad key id', sub { $_[0]{keys}[3]{id} = 'ak_short' },
              'keys[3].id: not a key id ("ak_" or "ik_" and 11 letters or '
              . 'digits)');
    $edited->('a bad time', sub { $_[0]{keys}[1]{expires_at} = 'tomorrow' },
              'keys[1].expires_at: not an RFC 3339 time or null');
    $edited->('a bad API', sub { $_[0]{keys}[1]{apis} = ['a', 'b/c'] },
              'keys[1].apis[1]: not a name (1 to 64 characters of A-Z a-z '
              . '0-9 . _ -)');
    $edited->('no APIs', sub { $_[0]{keys}[1]{apis} = [] },
              'keys[1].apis: not a list of API names or null');
    $edited->('not_before after expires_at',
              sub { $_[0]{keys}[$f]{not_before} = '2032-01-01T00:00:00Z' },
              "keys[$f].not_before: not before expires_at");
    $edited->('a negative count',
              sub { $_[0]{keys}[0]{usage} = { window_start => undef,
                    window_end => undef, count => -5, tat => 0 } },
              'keys[0].usage.count: not an integer from 0 to '
              . '9223372036854775807');
    $edited->('usage with an unknown field',
              sub { $_[0]{keys}[0]{usage} = { count => 1, tat => 0,
                    window_start => undef, window_end => undef, x => 1 } },
              'keys[0].usage: unknown field "x"');
    $edited->('a key of an unknown consumer',
              sub { $_[0]{keys}[3]{consumer} = 'nobody' },
              'keys[3].consumer: no consumer "nobody" in the file or the '
              . 'store');
    $edited->('a consumer twice',
              sub { push @{ $_[0]{consumers} }, { %{ $_[0]{consumers}[0] } } },
              'consumer "adam" is in the file twice');
    $edited->('a key id twice',
              sub { $_[0]{keys}[1]{id} = $_[0]{keys}[0]{id} },
              "key \"$ids[0]\" is in the file twice");
    $edited->('an HMAC twice',
              sub { $_[0]{keys}[3]{hmac} = $_[0]{keys}[1]{hmac} },
              qr/: keys\[[13]\]\.hmac: another key of the file has it too;/);

    $bad->('a field twice',
           $export =~ s/"schema": /"format": "nginx-apim-export\/1", "schema": /r,
           'the file.format: given twice');

    my ($rc, $out, $err) = run('-s', $dst, 'import', "$tmp/nonexistent");

    is($rc, 1, 'a missing file: exit 1');
    like($err, qr/^apimctl: cannot open "\Q$tmp\E\/nonexistent": /,
         'a missing file: the message');

    is(export_of($dst), $before, 'after all these, the store is unchanged');
};


subtest 'metadata of any JSON, and none' => sub {
    my $d = $json->decode($export);

    $d->{consumers}[0]{metadata} = { n => 1.5, list => [1, 'two', undef],
                                     deep => { t => JSON::PP::true } };
    $d->{keys}[0]{metadata} = {};

    my $dst = fresh('meta');

    spew("$tmp/meta.json", $json->encode($d));

    ok_run('import', '-s', $dst, 'import', "$tmp/meta.json");

    my $re = $json->decode(export_of($dst));

    is_deeply($re->{consumers}[0]{metadata}, $d->{consumers}[0]{metadata},
              'numbers, lists, objects, booleans and null come back');
    is($re->{keys}[0]{metadata}, undef, 'an empty object is no metadata');

    my ($rc, $out) = run('-s', $dst, 'import', "$tmp/meta.json");

    is(changed($out)->{changed}, 0, 'importing it again changes nothing');
};


done_testing();
