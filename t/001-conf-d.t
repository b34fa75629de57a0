# Every configuration in conf.d/ works as it is: "nginx -t" accepts it with
# Debian's nginx and the module just built, with the prefix (-p) standing
# for this repository, as "make run" uses it.  A scratch prefix links the
# build directory, so the stores the test makes stay out of the tree.
#
# Plain Test::More (no nginx server is run), so that it passes the same
# under openresty's Test::Nginx and under t/lib.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use Cwd qw(abs_path);

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $top = abs_path('.');
my $so = $ENV{TEST_NGINX_LOAD_MODULES} || "$top/build/ngx_http_apim_module.so";

my @confs = sort glob "$top/conf.d/*.conf";

ok(scalar @confs, 'conf.d holds configurations');
ok(-f $so, "the module is built: $so");

for my $conf (@confs) {
    my $prefix = tempdir(CLEANUP => 1);

    # the examples name the module as build/ngx_http_apim_module.so
    mkdir "$prefix/build" or die "mkdir: $!";
    symlink $so, "$prefix/build/ngx_http_apim_module.so" or die "symlink: $!";
    mkdir "$prefix/var" or die "mkdir: $!";
    mkdir "$prefix/var/$_" for qw(logs tmp);

    # "make run" writes the admin API's token
    open(my $fh, '>', "$prefix/var/admin-token") or die "token: $!";
    print $fh "demo-admin-token\n";
    close $fh;
    chmod 0755, $prefix;

    # a copy in the prefix's conf.d, so that paths relative to the
    # configuration's directory (../var/admin-token) land in the prefix
    mkdir "$prefix/conf.d" or die "mkdir: $!";
    (my $name = $conf) =~ s{.*/}{};
    system('cp', $conf, "$prefix/conf.d/$name") == 0 or die "cp: $?";

    my $out = `$nginx -t -p $prefix/ -c $prefix/conf.d/$name 2>&1`;
    my $rc = $? >> 8;

    is($rc, 0, "$name: nginx -t accepts it") or diag($out);
    like($out, qr/test is successful/, "$name: test is successful");
    unlike($out, qr/\[(?:warn|error|crit|alert|emerg)\]/, "$name: no warning");
}

done_testing();
