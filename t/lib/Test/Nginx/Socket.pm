package Test::Nginx::Socket;

# Test::Nginx::Socket - a small, self-contained test scaffold for nginx
# modules that understands the data-driven test format of openresty's
# Test::Nginx::Socket (https://github.com/openresty/test-nginx).
#
# Debian does not package openresty's Test::Nginx and CI cannot reach CPAN,
# so this file lets the project's t/*.t suites run with
#
#     prove -I t/lib -r t
#
# against a stock nginx binary.  The same suites also run unchanged under the
# real Test::Nginx, so wherever a suite can observe a difference this module
# follows the real one: generated nginx.conf, request building, the number and
# meaning of the TAP tests emitted for each section, error.log windows, ...
#
# A test file looks like:
#
#     use Test::Nginx::Socket 'no_plan';
#     run_tests();
#     __DATA__
#     === TEST 1: hello
#     --- config
#         location = /t { return 200 "hello\n"; }
#     --- request
#     GET /t
#     --- response_body
#     hello
#
# Block parsing, filters (eval, chomp, ...), ONLY/SKIP/LAST and plan handling
# come from Test::Base, which this class inherits from (exactly like the real
# module does).  Everything else - server root layout, nginx.conf generation,
# starting/stopping nginx, sending requests and checking the responses and
# error.log - is implemented below with core Perl modules only.
#
# Main environment variables: TEST_NGINX_BINARY, TEST_NGINX_PORT,
# TEST_NGINX_SERVROOT, TEST_NGINX_RANDOMIZE, TEST_NGINX_LOAD_MODULES,
# TEST_NGINX_MASTER_PROCESS, TEST_NGINX_NO_SHUFFLE, TEST_NGINX_USE_VALGRIND,
# TEST_NGINX_TIMEOUT, TEST_NGINX_LOG_LEVEL, TEST_NGINX_NO_CLEAN,
# TEST_NGINX_CHECK_ACCUM_ERR_LOG, TEST_NGINX_EVENT_TYPE, TEST_NGINX_VERBOSE.

use strict;
use warnings;

use Test::Base ();      # loaded, but its import() is what test files call
our @ISA = ('Test::Base');

use Test::More ();
use Carp ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle min);
use POSIX qw(WNOHANG EAGAIN EWOULDBLOCK EINTR);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep);

our $VERSION = '0.33';     # the openresty release whose behaviour is mirrored

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle no_long_string no_root_location
    master_on master_off master_process_enabled workers worker_connections
    log_level env_to_nginx config_preamble timeout check_accum_error_log
    html_dir server_root server_port server_port_for_client server_addr
    server_name add_block_preprocessor add_cleanup_handler
    add_test_cleanup_handler add_response_body_check bail_out is_str
    use_hup no_nginx_manager
);

my $HaveLongString = eval { require Test::LongString; 1 };

# ---------------------------------------------------------------------------
# Settings (all can be changed from the test file through the functions below)
# ---------------------------------------------------------------------------

our $Verbose           = $ENV{TEST_NGINX_VERBOSE};
our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || default_nginx_binary();
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Randomize         = $ENV{TEST_NGINX_RANDOMIZE};
our $RepeatEach        = 1;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Workers           = 1;
our $WorkerConnections = 64;
our $MasterProcess     = on_off($ENV{TEST_NGINX_MASTER_PROCESS});
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $SleepTime         = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $EventType         = $ENV{TEST_NGINX_EVENT_TYPE};
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $NoNginxManager    = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $NoLongString      = 0;
our $NoRootLocation    = 0;
our $ConfigPreamble    = '';
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers,
     @ResponseBodyChecks);

if ($Randomize) {
    $ServerPort = random_free_port({})
        or die "Test::Nginx::Socket: cannot find a free port\n";
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : ($ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot'));
$ServRoot =~ s{/+$}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";
our $CacheDir   = "$ServRoot/cache";

# Runtime state.
our $NginxVersion;          # canonical, e.g. 1.022001
our $NginxChild;            # our child pid when nginx runs in the foreground
our $PrevConfig;            # config of the nginx instance currently running
our $ErrLogPos = 0;         # error.log offset already inspected
our $RandPorts = {};        # TEST_NGINX_RAND_PORT_N values of the block
our $InSubprocess;

# A few aliases for suites that peek at the real module's variables.
{
    no strict 'refs';
    for my $var (qw(ServerPort ServerPortForClient ServRoot HtmlDir LogDir
                    ErrLogFile AccLogFile PidFile ConfFile NginxBinary
                    RepeatEach NoShuffle Timeout NginxVersion UseValgrind
                    Verbose NoLongString ServerAddr ServerName))
    {
        *{"Test::Nginx::Util::$var"} = \${"Test::Nginx::Socket::$var"};
    }
}

# ---------------------------------------------------------------------------
# Exported configuration functions
# ---------------------------------------------------------------------------

sub on_off { my $v = shift; return ($v && $v ne 'off') ? 'on' : 'off' }

sub getset { my ($ref, @args) = @_; $$ref = $args[0] if @args; return $$ref }

sub repeat_each            { getset(\$RepeatEach, @_) }
sub workers                { getset(\$Workers, @_) }
sub worker_connections     { getset(\$WorkerConnections, @_) }
sub log_level              { getset(\$LogLevel, @_) }
sub timeout                { getset(\$Timeout, @_) }
sub server_port            { getset(\$ServerPort, @_) }
sub server_port_for_client { getset(\$ServerPortForClient, @_) }
sub server_addr            { getset(\$ServerAddr, @_) }
sub server_name            { getset(\$ServerName, @_) }
sub config_preamble        { getset(\$ConfigPreamble, @_) }
sub no_shuffle ()          { $NoShuffle = 1 }
sub no_long_string ()      { $NoLongString = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()           { $MasterProcess = 'on' }
sub master_off ()          { $MasterProcess = 'off' }
sub no_nginx_manager ()    { $NoNginxManager = 1 }
sub use_hup ()             { }     # accepted; nginx is simply restarted per block
sub html_dir ()            { $HtmlDir }
sub server_root ()         { $ServRoot }

sub master_process_enabled {
    $MasterProcess = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcess;
}

sub env_to_nginx {
    Carp::croak("env_to_nginx: no arguments specified") unless @_;
    for my $v (@_) {
        Carp::croak("env_to_nginx: bad argument value: $v")
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub bail_out {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# is() for long strings; like() when the expectation is a regex.
sub is_str {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc)
        if $NoLongString || !$HaveLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

sub default_nginx_binary {
    for my $dir (split /:/, $ENV{PATH} || '') {
        return 'nginx' if $dir ne '' && -x "$dir/nginx" && !-d "$dir/nginx";
    }
    return -x '/usr/sbin/nginx' ? '/usr/sbin/nginx' : 'nginx';
}

sub verbose { warn @_, "\n" if $Verbose }

# "100ms" -> 0.1, "2s" / "2" -> 2
sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    return $1 if $t =~ /^([\d.]+)s$/;
    return $t;
}

sub random_free_port {
    my $used = shift;
    for (1 .. 1000) {
        # stay below the usual ephemeral range to avoid outgoing connections
        my $port = 1988 + int rand(32000 - 1988);
        next if $used->{$port} || $port == $ServerPort;
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
            LocalPort => $port, Proto => 'tcp', Listen => 1, ReuseAddr => 1)
            or next;
        close $sock;
        return $port;
    }
    return undef;
}

# Replaces $TEST_NGINX_FOO by the environment value; an undefined variable
# aborts the run, like the real module.  $TEST_NGINX_RAND_PORT_N gets a free
# port chosen once per block.
sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{ env_value($1, $name) }ge;
    return $text;
}

sub env_value {
    my ($var, $name) = @_;
    if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
        return $RandPorts->{$var} if defined $RandPorts->{$var};
        my %used = reverse %$RandPorts;
        return $RandPorts->{$var} = random_free_port(\%used)
            // bail_out("$name - Cannot find an available port for $var.\n");
    }
    bail_out("$name - No environment $var defined.\n") unless defined $ENV{$var};
    return $ENV{$var};
}

# Value of an expectation section for request $idx (see the real module's
# get_indexed_value: multi-request blocks need array-valued expectations).
sub indexed_value {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value && ref $value eq 'ARRAY') {
        return $value->[$idx] if $need_array;
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.") if $idx;
        return $value->[0];
    }
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.") if $need_array;
    return $value;
}

sub fmt_str {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub slurp {
    my $file = shift;
    open my $in, '<', $file or return undef;
    local $/;
    my $data = <$in>;
    close $in;
    return $data;
}

sub spew {
    my ($file, $data, $name) = @_;
    open my $out, '>', $file
        or bail_out("$name - Cannot open $file for writing: $!\n");
    binmode $out;
    print $out $data;
    close $out;
}

# ---------------------------------------------------------------------------
# nginx binary, server root and nginx.conf
# ---------------------------------------------------------------------------

sub nginx_V {
    our $NginxV //= `"$NginxBinary" -V 2>&1`;
    return $NginxV;
}

sub detect_nginx_version {
    my $out = nginx_V();
    bail_out("Failed to get the version of nginx ($NginxBinary): $out")
        if $? != 0 && $out !~ /version/;
    $out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}
        or bail_out("Failed to parse the output of \"nginx -V\": $out\n");
    return sprintf "%d.%03d%03d", $1, $2, $3;
}

# Removes what the previous block produced.  Only the directories nginx and
# this scaffold own are removed; anything else the suite keeps in the server
# root (e.g. a data store directory) survives across blocks.
sub setup_server_root {
    remove_tree($ConfDir, $CacheDir, $HtmlDir, $LogDir,
                glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"))
        if -d $ServRoot;
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to do mkdir $dir\n");
    }
    spew("$HtmlDir/index.html", '<html><head><title>It works!</title></head>'
         . '<body>It works!</body></html>', 'setup_server_root');
}

# "--- user_files" is either ">>> name [touch-date]" separated text or (with
# eval) an array of [name, body, date] triples.  Relative names go to html/.
sub write_user_files {
    my $block = shift;
    my $name  = $block->name;
    my $files = $block->user_files or return;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        spew($path, expand_env($body // '', $name), $name);
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - failed to run touch -t '$date' $path\n");
        }
    }
}

sub run_perl_section {
    my ($block, $section) = @_;
    my $code = $block->$section or return;
    eval $code;
    bail_out($block->name . " - $section failed: $@") if $@;
}

sub temp_path_directives {
    my $http_config = shift;
    my $v = nginx_V();
    my @lines;
    for my $mod (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $v =~ /--without-http_${mod}_module/;
        next if $http_config =~ /\b${mod}_temp_path\b/;
        push @lines, "${mod}_temp_path $ServRoot/${mod}_temp;";
    }
    return join ' ', @lines;
}

sub write_nginx_conf {
    my ($block, $config, $daemon) = @_;
    my $name        = $block->name;
    my $http_config = expand_env($block->http_config // '', $name);
    my $main_config = expand_env($block->main_config // '', $name);
    my $post_main   = expand_env($block->post_main_config // '', $name);
    my $server_name = $block->server_name // $ServerName;
    my $log_level   = $block->log_level || $LogLevel;
    $server_name =~ s/([\\'])/\\$1/g;

    my $modules = join '', map { "load_module $_;\n" }
                           grep { length } split /\s+/, $LoadModules // '';
    my $env = join '', map { "env " . (/\s/ ? "'$_'" : $_) . ";\n" }
        qw(MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
           LD_PRELOAD LD_LIBRARY_PATH ASAN_OPTIONS), @EnvToNginx;
    my $temp_paths = temp_path_directives($http_config);
    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    my $use_events = $EventType ? "    use $EventType;\n" : '';
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n" : '';

    spew($ConfFile, <<"_EOC_", $name);
${modules}worker_processes  $Workers;
daemon $daemon;
master_process $MasterProcess;
error_log $ErrLogFile $log_level;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile; $temp_paths

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort;
        server_name     '$server_name';
        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$use_events}
$user
_EOC_
}

# ---------------------------------------------------------------------------
# Starting and stopping nginx
# ---------------------------------------------------------------------------

sub nginx_command {
    my @cmd = ($NginxBinary);
    push @cmd, '-e', $ErrLogFile if ($NginxVersion // 0) >= 1.019005;
    return (@cmd, '-p', "$ServRoot/", '-c', $ConfFile);
}

# Exit-time "leaks" of stock nginx itself: memory allocated once when a
# (single or worker) process initializes and never freed before exit.
# Without these every block would fail in valgrind mode.  Note they also
# hide leaks of a module's own init_process handler allocations.
my $NginxCoreSuppressions = <<'_EOS_';
{
   nginx-core-environment
   Memcheck:Leak
   match-leak-kinds: definite,indirect,possible
   fun:malloc
   fun:ngx_alloc
   fun:ngx_set_environment
   ...
}
{
   nginx-core-process-init-single
   Memcheck:Leak
   match-leak-kinds: definite,indirect,possible
   fun:malloc
   fun:ngx_alloc
   fun:*
   fun:ngx_single_process_cycle
}
{
   nginx-core-process-init-worker
   Memcheck:Leak
   match-leak-kinds: definite,indirect,possible
   fun:malloc
   fun:ngx_alloc
   fun:*
   fun:*
   fun:*
   fun:ngx_spawn_process
}
_EOS_

sub valgrind_command {
    my @cmd = ('valgrind', '-q', "--log-file=$LogDir/valgrind.log");
    if ($UseValgrind =~ /^\d+$/) {
        our $SuppFile;
        if (!$SuppFile) {
            $SuppFile = File::Temp->new(SUFFIX => '.supp');
            print $SuppFile $NginxCoreSuppressions;
            close $SuppFile;
        }
        push @cmd, qw(--tool=memcheck --leak-check=full --show-possibly-lost=no
                      --num-callers=100 --gen-suppressions=all),
                   "--suppressions=$SuppFile";
        push @cmd, '--suppressions=valgrind.suppress' if -f 'valgrind.suppress';
    } else {
        push @cmd, split ' ', $UseValgrind;
    }
    return @cmd;
}

# Forks and execs @cmd with stdout discarded and stderr sent to $err_fh.
sub spawn {
    my ($err_fh, @cmd) = @_;
    verbose("command: @cmd");
    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    return $pid if $pid;
    $InSubprocess = 1;
    setpgrp(0, 0);
    open STDOUT, '>', '/dev/null';
    open STDERR, '>&', $err_fh if $err_fh;
    { no warnings "exec"; exec { $cmd[0] } @cmd; }
    print STDERR "cannot exec $cmd[0]: $!\n";
    POSIX::_exit(127);
}

# Starts nginx.  Returns (exit status, stderr output).  With daemon on, the
# status is the one of the nginx command line (0: it daemonized fine).  In
# valgrind mode nginx stays in the foreground as our child.
sub start_nginx {
    my ($name, $foreground) = @_;
    my $err = File::Temp->new;
    my @cmd = nginx_command();
    unshift @cmd, valgrind_command() if $foreground;

    my $pid = spawn($err, @cmd);
    my $status;
    if ($foreground) {
        $NginxChild = $pid;
        my $deadline = Time::HiRes::time() + 30;
        while (!-s $PidFile && Time::HiRes::time() < $deadline) {
            if (waitpid($pid, WNOHANG) == $pid) {
                $status = $?;
                undef $NginxChild;
                last;
            }
            sleep 0.05;
        }
        $status //= 0;
    } else {
        waitpid($pid, 0);
        $status = $?;
    }
    my $stderr = slurp($err->filename) // '';
    if ($status == 0 && !$foreground) {
        # the daemon writes its pid file right after forking
        for (1 .. 100) { last if -s $PidFile; sleep 0.01 }
    }
    sleep $SleepTime;
    return ($status, $stderr);
}

sub read_pid_file {
    my $pid = slurp($PidFile) // return undef;
    return $pid =~ /(\d+)/ ? $1 : undef;
}

# True while $pid is a live (non-zombie) process.
sub process_alive {
    my $pid = shift;
    if (defined $NginxChild && $pid == $NginxChild) {
        return 0 if waitpid($pid, WNOHANG) == $pid;
    }
    return 0 unless kill 0, $pid;
    my $stat = slurp("/proc/$pid/stat");
    return !(defined $stat && $stat =~ /^\d+ \(.*\) Z/s);
}

sub nginx_running {
    my $pid = $NginxChild // read_pid_file();
    return $pid && process_alive($pid);
}

# Gracefully stops the nginx instance found via the pid file (or our child).
sub stop_nginx {
    my $name = shift // 'cleanup';
    my $pid = $NginxChild // read_pid_file();
    if ($pid && process_alive($pid)) {
        verbose("stopping nginx $pid");
        kill 'QUIT', $pid;
        my $wait = $NginxChild ? 60 : ($Timeout > 3 ? $Timeout : 3);
        my $deadline = Time::HiRes::time() + $wait;
        sleep 0.02 while process_alive($pid) && Time::HiRes::time() < $deadline;
        if (process_alive($pid)) {
            warn "$name - timeout when waiting for nginx ($pid) to exit; killing it\n";
            kill 'KILL', ($NginxChild ? -$pid : $pid);
            sleep 0.05 while process_alive($pid);
        }
    }
    waitpid($NginxChild, 0) if defined $NginxChild;
    undef $NginxChild;
    unlink $PidFile if -e $PidFile;
}

# In valgrind mode each block's nginx is stopped at the end of the block so
# that leak reports are complete; any valgrind output is reported as failure.
sub check_valgrind_log {
    my $name = shift;
    my $log = slurp("$LogDir/valgrind.log");
    return unless defined $log && $log =~ /\S/;
    Test::More::fail("$name - valgrind reported errors");
    Test::More::diag($log);
}

my $CleanupHandlersDone;

sub run_cleanup_handlers {
    return if $CleanupHandlersDone++;
    $_->() for @CleanupHandlers;
}

sub cleanup {
    run_cleanup_handlers();
    stop_nginx('cleanup') unless $NoNginxManager;
}

END {
    return if $InSubprocess;
    local $?;
    run_cleanup_handlers();
    stop_nginx('END') if !$NoNginxManager && !$ENV{TEST_NGINX_NO_CLEAN};
    remove_tree($ServRoot)
        if $Randomize && !$ENV{TEST_NGINX_NO_CLEAN} && $ServRoot =~ m{/t/servroot_\d+$};
}

# ---------------------------------------------------------------------------
# Building requests
# ---------------------------------------------------------------------------

# "--- more_headers" text -> ("Key: value\r\n..." , is_chunked)
sub parse_more_headers {
    my $text = shift // '';
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $text) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# Turns a "METHOD [URI [VERSION]]\nbody" request spec split in packets into
# the same packets of a complete HTTP request: the request line gets its
# defaults (URI "/", HTTP/1.1), Host/Connection/more_headers/Content-Length
# headers are inserted after it, and packet boundaries in the body keep
# their offsets.
sub build_request {
    my ($name, $headers, $chunked, $conn, $packets) = @_;
    my $spec = join '', @$packets;
    my ($first, $content) = $spec =~ /\A([^\n]*\n?)(.*)\z/s;
    $first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($method, $url, $version) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my $extra = '';
    if (!$chunked && $content ne '' && $headers !~ /(?:^|\n)Content-Length:/) {
        $content =~ s/^\s+|\s+$//gs;
        $extra = "Content-Length: " . length($content) . "\r\n";
    }
    my $head = "$method $url $version\r\n";
    $head .= "Host: $ServerName\r\n" if $headers !~ /(?:^|\n)Host:/msi;
    $head .= "Connection: $conn\r\n" if $headers !~ /(?:^|\n)Connection/msi;
    $head .= "$headers$extra\r\n";
    my $full = $head . $content;

    # re-split at the original packet boundaries
    my (@out, $pos, $orig);
    ($pos, $orig) = (0, 0);
    for my $i (0 .. $#$packets) {
        $orig += length $packets->[$i];
        my $end = $i == $#$packets ? length $full
                : $orig < length $first ? $orig
                : length($head) + $orig - length $first;
        $end = length $full if $end > length $full;
        $end = $pos if $end < $pos;
        push @out, substr($full, $pos, $end - $pos);
        $pos = $end;
    }
    return \@out;
}

sub headers_for {
    my ($name, $more_headers, $i) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $hdr = $more_headers->[$i];
        bail_out("$name - --- more_headers lacks data for request $i")
            unless defined $hdr;
        return parse_more_headers($hdr);
    }
    return parse_more_headers($more_headers);
}

sub packet { return ref $_[0] eq 'HASH' ? { %{ $_[0] } } : { value => $_[0] } }

# Returns a list of requests; each request is a list of packets
# ({ value => bytes, delay_before => seconds }).
sub requests_of_block {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { packet($_) } ref $raw eq 'ARRAY' ? @$raw : ($raw) ]];
    }

    my $more_headers = $block->more_headers // '';

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $data = '';
        for my $i (0 .. $#$reqs) {
            my $req = expand_env($reqs->[$i], $name);
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $data .= build_request($name, headers_for($name, $more_headers, $i),
                                   $conn, [$req])->[0];
        }
        return [[ { value => $data } ]];
    }

    my $request = defined $block->request_eval ? eval $block->request_eval
                                               : $block->request;
    if (defined $request && !ref $request) {
        1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;   # leading comments
    }
    bail_out("$name - Request line should be non-empty")
        if !defined $request || (!ref $request && $request eq '');

    my @specs = ref $request eq 'ARRAY' ? @$request
              : ref $request ? bail_out("$name - invalid ---request : MUST be "
                                        . "string or array of requests")
              : ($request);
    my @list;
    for my $i (0 .. $#specs) {
        my $spec = $specs[$i];
        my @pkts = ref $spec eq 'ARRAY' ? map { packet($_) } @$spec
                                        : ({ value => $spec });
        my $built = build_request($name, headers_for($name, $more_headers, $i),
                                  'close', [ map { $_->{value} } @pkts ]);
        $pkts[$_]{value} = $built->[$_] for 0 .. $#pkts;
        push @list, \@pkts;
    }
    return \@list;
}

# ---------------------------------------------------------------------------
# Sending a request
# ---------------------------------------------------------------------------

sub connect_server {
    my ($name, $timeout) = @_;
    my $err;
    my $max = $NginxChild ? 300 : 100;     # ~ 30s (valgrind) / 10s
    for my $try (1 .. $max) {
        my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
            PeerPort => $ServerPortForClient, Proto => 'tcp',
            Timeout => $timeout);
        return $sock if $sock;
        $err = $!;
        last if $try > 3 && !$NoNginxManager && !nginx_running();
        sleep 0.1;
    }
    Test::More::fail("$name - Can't connect to $ServerAddr:"
                     . "$ServerPortForClient: $err (aborted)");
    return undef;
}

# Sends the packets and reads until the server closes the connection.  The
# timeout applies to every single wait for socket I/O.
sub send_request {
    my ($block, $packets, $timeout) = @_;
    my $name = $block->name;
    my $sock = connect_server($name, $timeout) or return '';
    local $SIG{PIPE} = 'IGNORE';
    $sock->blocking(0);

    my @queue = @$packets;
    my ($buf, $off, $resp, $writing) = (undef, 0, '', 1);
    my $middle_delay = $block->raw_request_middle_delay;
    my $sel = IO::Select->new($sock);

    while (1) {
        if ($writing && (!defined $buf || $off >= length $buf)) {
            my $first = !defined $buf;
            my $pkt = shift @queue;
            if (!$pkt) {
                $writing = 0;
                my $how = $block->shutdown;
                shutdown($sock, $how =~ /^\d+$/ ? $how : 1) if defined $how;
                next;
            }
            my $delay = $pkt->{delay_before} // $middle_delay;
            sleep $delay if $delay && !$first;
            ($buf, $off) = ($pkt->{value} // '', 0);
            next;
        }

        $! = 0;
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            next if $! == EINTR;
            Test::More::fail("ERROR: client socket timed out - $name")
                unless defined $block->abort;
            last;
        }
        if ($w && @$w) {
            my $n = syswrite($sock, $buf, length($buf) - $off, $off);
            if (defined $n) {
                $off += $n;
            } elsif ($! != EAGAIN && $! != EWOULDBLOCK) {
                warn "write failed: $!\n";
                $resp = "write failed: $!" if $resp eq '';
                $writing = 0;
            }
        }
        if ($r && @$r) {
            my $n = sysread($sock, my $chunk, 65536);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }
    close $sock;
    return $resp;
}

# ---------------------------------------------------------------------------
# Parsing a response (the subset of HTTP::Response->parse the checks need)
# ---------------------------------------------------------------------------

sub header_value {
    my ($res, $key) = @_;
    return undef unless $res;
    my @vals = map { $_->[1] } grep { lc $_->[0] eq lc $key } @{ $res->{headers} };
    return @vals ? join(', ', @vals) : undef;
}

# Returns ($res, $left): $res is { code, headers => [[k, v]...], content,
# raw_headers } and $left holds bytes after this response (pipelining).
sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my $res = { headers => [], content => '' };
    $res->{raw_headers} = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my $status = $raw =~ s/^(.*)\n// ? $1 : do { my $s = $raw; $raw = ''; $s };
    $status =~ s/\r\z//;
    my @parts = $status =~ /^\d{3} / ? split(' ', $status, 2)
                                    : (split ' ', $status, 3)[1, 2];
    $res->{code} = $parts[0] if defined $parts[0] && $parts[0] =~ /^\d+$/;

    while (1) {
        if ($raw =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            push @{ $res->{headers} }, [$1, $2];
        } elsif (@{ $res->{headers} } && $raw =~ s/^([ \t].*)\n?//) {
            $res->{headers}[-1][1] .= "\n$1";
        } else {
            $raw =~ s/^\r?\n//;
            last;
        }
        $res->{headers}[-1][1] =~ s/\r\z//;
    }
    $res->{content} = $raw;

    my $code = $res->{code} // 0;
    return ($res, undef) if $code == 304 || $code == 101;

    my $te  = header_value($res, 'Transfer-Encoding');
    my $len = header_value($res, 'Content-Length');
    if (defined $te && $te eq 'chunked') {
        return decode_chunked($name, $res);
    }
    if (defined $len && $len =~ /^\d+$/) {
        if (length $raw < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got ", length $raw, "\n" unless $head_req;
        } elsif (length $raw > $len) {
            $res->{content} = substr $raw, 0, $len;
            return ($res, substr $raw, $len);
        }
    }
    return ($res, undef);
}

sub decode_chunked {
    my ($name, $res) = @_;
    my $raw = $res->{content};
    my $decoded = '';
    my $bad = sub { Test::More::fail("$name - invalid chunked data received ($_[0])"); () };
    while (1) {
        if ($raw =~ /\G0[ \t]*\r\n/gc) {
            # optional trailer fields, then the final CRLF
            $raw =~ /\G(?:[^\r\n]+\r\n)*\r\n/gc or return $bad->('expected CRLF');
            my $left = $raw =~ /\G(.+)/gcs ? $1 : undef;
            $res->{content} = $decoded;
            return ($res, $left);
        }
        $raw =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc
            or return $bad->((pos($raw) // 0) < length($raw)
                             ? 'bad chunk size' : 'no last chunk found');
        my $size = hex $1;
        my $at = pos $raw;
        return $bad->('not enough octets for the data section')
            if length($raw) - $at < $size;
        $decoded .= substr $raw, $at, $size;
        pos($raw) = $at + $size;
        $raw =~ /\G\r\n/gc or return $bad->('expected CRLF');
    }
}

# ---------------------------------------------------------------------------
# Response checks
# ---------------------------------------------------------------------------

sub check_error_code {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->{code}) || '';
    if (defined $block->error_code_like) {
        my $re = indexed_value($name, $block->error_code_like, $idx, $need_array);
        Test::More::like($got, qr/$re/sm, "$name - status code ok");
    } else {
        my $want = defined $block->error_code
            ? indexed_value($name, $block->error_code, $idx, $need_array) : 200;
        Test::More::is($got, $want, "$name - status code ok");
    }
}

sub check_raw_response_headers {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $raw = $res ? $res->{raw_headers} : '';
    for my $type (qw(like unlike)) {
        my $section = "raw_response_headers_$type";
        next unless defined $block->$section;
        my $re = indexed_value($name, $block->$section, $idx, $need_array);
        my $cmp = $type eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($raw, qr/$re/s, "$name - raw resp headers $type");
    }
}

# "Name: value" lines; "!Name" means the header must be absent.
sub parse_expected_headers {
    my $text = shift // '';
    my %headers;
    for my $line (split /\n/, $text) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }
    return \%headers;
}

sub check_response_headers {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->response_headers) {
        my $expected = parse_expected_headers(
            indexed_value($name, $block->response_headers, $idx, $need_array));
        for my $key (sort keys %$expected) {
            my $val = $expected->{$key};
            if (!defined $val) {
                Test::More::unlike($res ? $res->{raw_headers} : '',
                    qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            Test::More::is(header_value($res, $key) // '', $val,
                           "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $expected = parse_expected_headers(
            indexed_value($name, $block->response_headers_like, $idx, $need_array));
        for my $key (sort keys %$expected) {
            my $val = $expected->{$key} // '';
            Test::More::like(header_value($res, $key) // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }
}

sub check_response_body {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->{content} : undef;

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected = defined $block->response_body_eval
            ? eval indexed_value($name, $block->response_body_eval, $idx, $need_array)
            : indexed_value($name, $block->response_body, $idx, $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env($expected, $name);
        }
        my $desc = "$name - response_body - response is expected "
                   . "(repeated req $rep, req $idx)";
        if (ref $expected) {
            Test::More::like($content, $expected, $desc);
        } else {
            is_str($content, $expected, $desc);
        }
    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $section = "response_body_$type";
        my $pat = indexed_value($name, $block->$section, $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = $content // '';
        $summary =~ s/^\s+|\s+$//g;
        $summary =~ s/\s+/ /g;
        my $cmp = $type eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($content, qr/$pat/s,
               "$name - response_body_$type - response is expected ($summary)");
    }

    $_->($block, $content, $idx, $rep, 0) for @ResponseBodyChecks;
}

# ---------------------------------------------------------------------------
# error.log / access.log checks
# ---------------------------------------------------------------------------

# Lines logged since the previous check (the whole file for the first check
# after nginx started, or always with check_accum_error_log).
sub read_error_log {
    sleep $SleepTime * 3;     # give the log phase a chance to run
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogPos, 0 if !$CheckAccumErrLog && $ErrLogPos > 0;
    my @lines = <$in>;
    $ErrLogPos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub read_access_log {
    sleep $SleepTime * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    return \@lines;
}

# Section value -> list of patterns: plain text gives one substring pattern
# per line; eval can give a qr// or an array of strings and qr//s.
sub pattern_list {
    my $pats = shift;
    return () unless defined $pats;
    return ($pats) if ref $pats eq 'Regexp';
    return grep { defined } @$pats if ref $pats eq 'ARRAY';
    chomp $pats;
    return split /\n+/, $pats;
}

sub line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub check_log_patterns {
    my ($name, $lines, $section, $value, $file, $rep) = @_;
    my @pats = pattern_list($value);
    if ($section !~ /^no_/) {
        for my $pat (@pats) {
            if (grep { line_matches($_, $pat) } @$lines) {
                Test::More::pass("$name - pattern \"$pat\" matches a line in $file (req $rep)");
            } else {
                Test::More::fail("$name - pattern \"$pat\" should match a line in $file (req $rep)");
            }
        }
        return;
    }
    for my $pat (@pats) {
        my $found = 0;
        for my $i (0 .. $#$lines) {
            next unless line_matches($lines->[$i], $pat);
            $found = 1;
            my @more = @$lines[$i + 1 .. min($i + 9, $#$lines - 1)];
            Test::More::fail("$name - pattern \"" . fmt_str($pat) . "\" should not "
                . "match any line in $file but matches line \""
                . fmt_str($lines->[$i]) . "\" (req $rep)\n" . join '', @more);
        }
        Test::More::pass("$name - pattern \"" . fmt_str($pat)
                         . "\" does not match a line in $file (req $rep)") unless $found;
    }
}

sub check_grep_error_log {
    my ($block, $lines, $rep) = @_;
    my $name = $block->name;
    my $pat = $block->grep_error_log;
    if (!defined $pat) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out "
                 . "is defined") if defined $block->grep_error_log_out;
        return;
    }
    $pat = $pat->[$rep] if ref $pat eq 'ARRAY';
    my $expected = $block->grep_error_log_out;
    bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log "
             . "is defined") unless defined $expected;
    $expected = expand_env($expected, $name);
    $expected = $expected->[$rep] if ref $expected eq 'ARRAY';

    my $matched = '';
    for my $line (@$lines) {
        next unless ref $pat ? $line =~ $pat : $line =~ /\Q$pat\E/;
        $matched .= "$&\n" if $& !~ /\n/;
    }
    is_str($matched, $expected, "$name - grep_error_log_out (req $rep)");
}

sub check_error_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines = read_error_log();
    check_grep_error_log($block, $lines, $rep);
    for my $section (qw(error_log no_error_log)) {
        check_log_patterns($name, $lines, $section, $block->$section,
                           'error.log', $rep) if defined $block->$section;
    }

    # like the real module: warn about severe messages nobody asked about
    my @expected = map { pattern_list($block->$_) } qw(error_log no_error_log);
    for my $level (qw(alert crit emerg)) {
        next if grep { index("$_", "[$level") >= 0 } @expected;
        warn "WARNING: $name - ", fmt_str($_), "\n" for grep { /\[$level\]/ } @$lines;
    }
    for my $line (grep { /\bAssertion .*?failed\b/ } @$lines) {
        chomp(my $l = $line);
        Test::More::fail("$name - $l");
    }
}

sub check_access_log {
    my ($block, $rep) = @_;
    my $lines;
    for my $section (qw(access_log no_access_log)) {
        next unless defined $block->$section;
        $lines //= read_access_log();
        check_log_patterns($block->name, $lines, $section, $block->$section,
                           'access.log', $rep);
    }
}

# ---------------------------------------------------------------------------
# Running a block
# ---------------------------------------------------------------------------

# One repetition of a block: send every request, check every response, and
# check error.log after each response (the window ends at that response).
sub run_requests {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $reqs = requests_of_block($block);
    my $timeout = parse_time(scalar $block->timeout) // $Timeout;
    my $pipelined = $block->pipelined_requests ? scalar @{ $block->pipelined_requests } : 0;
    my $need_array = $pipelined || @$reqs > 1;
    my $total = $pipelined || @$reqs;
    my $idx = 0;

    for my $packets (@$reqs) {
        my $is_head = join('', map { $_->{value} } @$packets) =~ /^\s*HEAD\s+/;
        my $raw = send_request($block, $packets, $timeout);
        for (1 .. ($pipelined || 1)) {
            my ($res, $left) = parse_response($name, $raw // '', $is_head);
            if ($pipelined) {
                $raw = $left;
            } elsif (defined $left && length $left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk "
                     . "in response: \"$l\"\n";
            }
            unless (defined $block->ignore_response) {
                check_error_code($block, $res, $idx, $need_array);
                check_raw_response_headers($block, $res, $idx, $need_array);
                check_response_headers($block, $res, $idx, $need_array);
                check_response_body($block, $res, $idx, $rep, $need_array);
            }
            if ($idx < $total - 1) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $rep);
                check_access_log($block, $rep) unless defined $block->ignore_response;
            }
            $idx++;
        }
    }
    sleep $block->wait if $block->wait;
    check_error_log($block, $rep);
    check_access_log($block, $rep) unless defined $block->ignore_response;
}

# "--- skip_nginx: 2: < 1.21.0" / "--- skip_eval: 2: $^O ne 'linux'"
# Returns (number of tests to skip, reason) when the block must be skipped.
sub skip_spec {
    my $block = shift;
    my $name = $block->name;
    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@") if $@;
            return ($n, 'skip_eval') if $skip;
        }
    }
    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op, $reason) = ($1, $2, $6 || "nginx version $2 $3.$4.$5");
        my $ver = sprintf "%d.%03d%03d", $3, $4, $5;
        return ($n, $reason) if defined $NginxVersion
            ? eval "$NginxVersion $op $ver" : $op =~ /^</;
    }
    return ();
}

# must_die: nginx has to fail at startup.  As in the real module, error_log
# and no_error_log are then matched against error.log, which receives the
# startup messages because nginx is started with "-e logs/error.log".
sub run_must_die {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $must_die = $block->must_die;
    stop_nginx($name);
    prepare_server_root($block, $config, 'on');
    $ErrLogPos = 0;
    for my $rep (0 .. $RepeatEach - 1) {
        my ($status, $stderr) = start_nginx($name, 0);
        Test::More::note($stderr) if $stderr ne '';
        my $exit = $status >> 8;
        if ($status & 127) {
            Test::More::fail("$name - nginx core dumped / killed by a signal");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($exit, $must_die, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }
        check_error_log($block, $rep);
        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it (req $rep)\n";
            stop_nginx($name);
        }
    }
    undef $PrevConfig;
}

sub prepare_server_root {
    my ($block, $config, $daemon) = @_;
    setup_server_root();
    run_perl_section($block, 'post_setup_server_root');
    write_user_files($block);
    write_nginx_conf($block, $config, $daemon);
}

# (Re)starts nginx for a block.  Returns false (after reporting a failure)
# when nginx could not be started.
sub restart_nginx {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $foreground = $UseValgrind ? 1 : 0;
    stop_nginx($name);
    prepare_server_root($block, $config, $foreground ? 'off' : 'on');
    warn "$name\n" if $foreground;

    my ($status, $stderr);
    for my $try (1 .. 5) {
        ($status, $stderr) = start_nginx($name, $foreground);
        last if $status == 0 || $stderr !~ /Address already in use/;
        sleep 0.2 * $try;     # a previous instance may still be exiting
    }
    print STDERR $stderr if $status == 0 && $stderr ne '';
    if ($status != 0) {
        undef $PrevConfig;
        my @cmd = nginx_command();
        Test::More::fail("$name - Cannot start nginx using command \"@cmd\" "
                         . "(status code $status)");
        Test::More::diag($stderr) if $stderr ne '';
        return 0;
    }
    $PrevConfig = $config;
    return 1;
}

# Sections of the real Test::Nginx this runner does not implement.
my @UnsupportedSections = qw(
    tcp_listen tcp_reply udp_listen udp_reply http2 http3 curl stap stap_out
    response_body_filters response_body_json_sort shutdown_error_log
    no_shutdown_error_log skip_nginx2 skip_openssl skip_slave todo todo_nginx
    error_log_file reload_fails http09 charset
);

sub run_test {
    my $block = shift;
    my $name = $block->name;
    return if defined $block->SKIP;
    for my $section (grep { defined $block->{$_} } @UnsupportedSections) {
        warn "WARNING: $name - section --- $section is not supported by "
             . "this Test::Nginx::Socket and is ignored\n";
    }
    local $RandPorts = {};
    my $config = expand_env(scalar $block->config, $name);

    if (my ($n, $reason) = skip_spec($block)) {
        for (1 .. $RepeatEach) {
            SKIP: { Test::More::skip("$name - $reason", $n) }
        }
        return;
    }

    if (defined $block->must_die) {
        return run_must_die($block, $config // '');
    }

    if ($NoNginxManager) {
        # nginx is managed by someone else
    } elsif (defined $config) {
        return unless restart_nginx($block, $config);
    } elsif (!defined $PrevConfig) {
        bail_out("$name - No '--- config' section specified and could not get "
                 . "previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
    }

    run_perl_section($block, 'init');
    $ErrLogPos = 0;
    for my $rep (0 .. $RepeatEach - 1) {
        write_user_files($block) if $rep > 0;
        run_requests($block, $rep);
    }

    if ($UseValgrind && !$NoNginxManager) {
        stop_nginx($name);
        check_valgrind_log($name);
        undef $PrevConfig;
    }
}

sub run_tests () {
    srand($$ ^ int(Time::HiRes::time() * 1000000));
    $NginxVersion = detect_nginx_version() unless $NoNginxManager;
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
    }
    run_cleanup_handlers();
}

1;
