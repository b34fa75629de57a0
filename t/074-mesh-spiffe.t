# Unit tests of src/ngx_mesh_spiffe.c, the plain-C SPIFFE ID parser and
# pattern matcher: the file is compiled with a small driver (libc only, no
# nginx) and fed IDs and patterns on its standard input.
#
#   prove t/074-mesh-spiffe.t

use strict;
use warnings;

use File::Temp qw(tempdir);
use IPC::Open2 qw(open2);
use Test::More;

my $dir = tempdir(CLEANUP => 1);
my $cc = $ENV{CC} // 'cc';

open my $fh, '>', "$dir/driver.c" or die "$dir/driver.c: $!";
print $fh <<'_EOC_';
#include <stdio.h>
#include <string.h>

#include "ngx_mesh_spiffe.h"

/* "parse ID", "pattern P", "match P ID": one answer a line */

int
main(void)
{
    static char           line[8192];
    char                 *arg, *id;
    const char           *err;
    ngx_mesh_str_t        s, p;
    ngx_mesh_spiffe_id_t  out;

    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        arg = strchr(line, ' ');
        if (arg == NULL) {
            return 2;
        }
        *arg++ = '\0';

        if (strcmp(line, "parse") == 0) {
            s.data = arg;
            s.len = strlen(arg);
            err = ngx_mesh_spiffe_parse(&s, &out);
            if (err) {
                printf("err %s\n", err);
            } else {
                printf("ok %.*s %.*s\n",
                       (int) out.trust_domain.len, out.trust_domain.data,
                       (int) out.path.len, out.path.data);
            }

        } else if (strcmp(line, "pattern") == 0) {
            p.data = arg;
            p.len = strlen(arg);
            err = ngx_mesh_spiffe_check_pattern(&p);
            printf("%s\n", err ? err : "ok");

        } else {
            id = strchr(arg, ' ');
            if (id == NULL) {
                return 2;
            }
            *id++ = '\0';
            p.data = arg;
            p.len = strlen(arg);
            s.data = id;
            s.len = strlen(id);
            printf("%d\n", ngx_mesh_spiffe_match(&p, &s));
        }

        fflush(stdout);
    }

    return 0;
}
_EOC_
close $fh;

system($cc, '-Wall', '-Wextra', '-Werror', '-Isrc', '-o', "$dir/driver",
       "$dir/driver.c", 'src/ngx_mesh_spiffe.c') == 0
    or BAIL_OUT("cannot compile src/ngx_mesh_spiffe.c with $cc");

my $pid = open2(my $out, my $in, "$dir/driver");

sub ask {
    my ($q) = @_;

    print $in "$q\n";
    my $a = <$out> // die "driver: no answer to $q\n";
    chomp $a;
    return $a;
}

my $td = 'spiffe://example.org';
my $td255 = 'spiffe://' . ('a' x 255) . '/x';
my $id2048 = "$td/" . ('a' x (2048 - length("$td/")));

my @parse = (
    ["$td/ns/shop/sa/web", 'ok example.org /ns/shop/sa/web'],
    ["$td/a", 'ok example.org /a'],
    ['spiffe://a.b-c_d.0/A.b-C_d/0', 'ok a.b-c_d.0 /A.b-C_d/0'],
    ["$td/.a/..b/a..", 'ok example.org /.a/..b/a..'],
    [$td255, 'ok ' . ('a' x 255) . ' /x'],
    [$id2048, 'ok example.org ' . substr($id2048, length $td)],
    ["$id2048" . 'a', 'err an ID longer than 2048 bytes'],
    ['spiffe://' . ('a' x 256) . '/x',
     'err a trust domain longer than 255 bytes'],
    ['https://example.org/a', 'err not a spiffe:// URI'],
    ['SPIFFE://example.org/a', 'err not a spiffe:// URI'],
    ['spiffe:/example.org/a', 'err not a spiffe:// URI'],
    ['spiffe:', 'err not a spiffe:// URI'],
    ['', 'err not a spiffe:// URI'],
    ['spiffe://', 'err an empty trust domain'],
    ['spiffe:///a', 'err an empty trust domain'],
    ['spiffe://Example.org/a', 'err an uppercase letter in the trust domain'],
    ['spiffe://ex%41mple.org/a', 'err percent-encoding'],
    ['spiffe://example.org:443/a', 'err a port'],
    ['spiffe://u:p@example.org/a', 'err a port'],
    ['spiffe://u@example.org/a', 'err userinfo'],
    ['spiffe://example.org?q/a', 'err a query'],
    ['spiffe://example.org#f', 'err a fragment'],
    ['spiffe://exa mple.org/a', 'err an invalid character in the trust domain'],
    ['spiffe://exa+mple.org/a', 'err an invalid character in the trust domain'],
    [$td, 'err no path (a root ID)'],
    ["$td/", 'err a trailing slash'],
    ["$td/a/", 'err a trailing slash'],
    ["$td//a", 'err an empty path segment'],
    ["$td/a//b", 'err an empty path segment'],
    ["$td/.", 'err a "." path segment'],
    ["$td/a/./b", 'err a "." path segment'],
    ["$td/..", 'err a ".." path segment'],
    ["$td/a/../b", 'err a ".." path segment'],
    ["$td/a%2Fb", 'err percent-encoding'],
    ["$td/a?x=1", 'err a query'],
    ["$td/a?x=/", 'err a query'],
    ["$td/a#top", 'err a fragment'],
    ["$td/a:b", 'err a port'],
    ["$td/a\@b", 'err userinfo'],
    ["$td/a b", 'err an invalid character in the path'],
    ["$td/a+b", 'err an invalid character in the path'],
    ["$td/a*", 'err an invalid character in the path'],
);

for my $t (@parse) {
    my ($id, $want) = @$t;
    my $name = length $id > 60 ? substr($id, 0, 57) . '...' : $id;
    is(ask("parse $id"), $want, "parse \"$name\"");
}

my @patterns = (
    ['*', 'ok'],
    ["$td/ns/shop/sa/web", 'ok'],
    ["$td/ns/shop/*", 'ok'],
    ["$td/*", 'ok'],
    ['spiffe://Example.org/*', 'an uppercase letter in the trust domain'],
    ["$td/ns/*/sa", 'an invalid character in the path'],
    ["$td/ns*", 'an invalid character in the path'],
    ['**', 'not a spiffe:// URI'],
    ["$td", 'no path (a root ID)'],
    ["$td/ns/", 'a trailing slash'],
    ['spiffe:///*', 'an empty trust domain'],
);

for my $t (@patterns) {
    is(ask("pattern $t->[0]"), $t->[1], "pattern \"$t->[0]\"");
}

my @match = (
    ['*', "$td/a", 1],
    ["$td/a", "$td/a", 1],
    ["$td/a", "$td/ab", 0],
    ["$td/a", "$td/a/b", 0],
    ["$td/ab", "$td/a", 0],
    ["$td/ns/*", "$td/ns/a", 1],
    ["$td/ns/*", "$td/ns/a/b", 1],
    ["$td/ns/*", "$td/ns", 0],
    ["$td/ns/*", "$td/nsx/a", 0],
    ["$td/*", "$td/a", 1],
    ["$td/*", 'spiffe://example.org.evil/a', 0],
    ["$td/*", 'spiffe://other.org/a', 0],
);

for my $t (@match) {
    is(ask("match $t->[0] $t->[1]"), $t->[2], "\"$t->[0]\" ~ \"$t->[1]\"");
}

close $in;
waitpid $pid, 0;
is($?, 0, 'the driver exits cleanly');

done_testing();
