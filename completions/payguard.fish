# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_payguard_global_optspecs
    string join \n config= log-level= h/help V/version
end

function __fish_payguard_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_payguard_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_payguard_using_subcommand
    set -l cmd (__fish_payguard_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c payguard -n "__fish_payguard_needs_command" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_needs_command" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_needs_command" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_needs_command" -s V -l version -d 'Print version'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "check" -d 'Validate the configuration and show what would be watched, and when'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "once" -d 'Poll every source once, store, detect, print and send what fired'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "run" -d 'Run the daemon: every source on its schedule until SIGINT or SIGTERM'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "reload" -d 'Make the running daemon read its configuration again, and say whether it now runs (exit 0) or was refused (exit 78, with the error; the previous configuration keeps running). Exit 75 when no daemon listens. SIGHUP does the same without waiting for the outcome'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "demo" -d 'Play a scripted incident against the built-in simulated platform'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "notify-test" -d 'Send a test message through each channel now, and say which worked'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "silence" -d 'Mute alerts for a while'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "status" -d 'How each source and account is doing, what is firing, what is owed'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "history" -d 'The balances and transactions kept for an account'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "export" -d 'Write an evidence bundle for one account (CSV, JSON, an HTML report, a SHA-256 manifest) into a new or empty directory, to hand to the platform, the bank or the police'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "alerts" -d 'The alerts that are firing (with --all, every alert kept)'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "payees" -d 'Who an account has paid or been paid by'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "imap-test" -d 'Show which rule of an imap source matches each of the latest mails, and what it reads (read-only; nothing is stored)'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "trust" -d 'Trust a payee of an account: payments to it never raise new_payee'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "ack" -d 'Acknowledge an alert, or every alert of an incident: a person has seen it, so it is not repeated'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "verify" -d 'Check that the store\'s audit log is intact: every entry hashes right and links to the last, and no entry its anchor recorded is missing (exit 1 at a broken link, 65 for lost entries)'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "init" -d 'Write a first config where --config points (mode 0600; never overwrites): a SimpleFIN source, its accounts, a console and a desktop channel. With --simplefin, claim the setup token into a file beside it and list the accounts the bridge reads'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "simplefin-claim" -d 'Exchange a SimpleFIN setup token for its access URL, written to a file only you can read. Needs no config: this is the step before writing one'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "gocardless-link" -d 'Link your bank through GoCardless Bank Account Data: list a country\'s banks, create the agreement and the link to open, wait until you have given your bank\'s consent, and print the accounts and the config lines. Reads the user secrets from $PAYGUARD_GOCARDLESS_SECRET_ID and $PAYGUARD_GOCARDLESS_SECRET_KEY. Needs no config'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "enablebanking-link" -d 'Link your bank through Enable Banking (EU/EEA): list a country\'s banks, or start the authorisation, print the link to open, read the address your bank sent the browser back to from stdin, and write the session id to a file only you can read. Prints the accounts and the config lines. Needs no config'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "completions" -d 'Print the completion script for a shell (bash, zsh, fish, elvish, powershell)'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "man" -d 'Print the manual page (roff), e.g. `payguard man | man -l -`'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "agent" -d 'Show a running daemon\'s alerts as desktop notifications in this session, for a daemon run as a system service (which cannot reach your desktop). Needs no config'
complete -c payguard -n "__fish_payguard_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c payguard -n "__fish_payguard_using_subcommand check" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand check" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand check" -l offline -d 'Read no secret (no `${file:...}`, `${env:...}` or `${credential:...}`): check the rest, as on a machine that does not hold them, such as the example config\'s'
complete -c payguard -n "__fish_payguard_using_subcommand check" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand once" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand once" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand once" -l json -d 'Print findings as JSON lines on stdout; everything else goes to stderr'
complete -c payguard -n "__fish_payguard_using_subcommand once" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand run" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand run" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand run" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand reload" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand reload" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand reload" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand demo" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand demo" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand demo" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand notify-test" -l channel -d 'Only this channel' -r
complete -c payguard -n "__fish_payguard_using_subcommand notify-test" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand notify-test" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand notify-test" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and not __fish_seen_subcommand_from add list expire help" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand silence; and not __fish_seen_subcommand_from add list expire help" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and not __fish_seen_subcommand_from add list expire help" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and not __fish_seen_subcommand_from add list expire help" -f -a "add" -d 'Mute alerts that match every given matcher (at least one) for a while'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and not __fish_seen_subcommand_from add list expire help" -f -a "list" -d 'Show the silences in force (and with --all, the ended ones too)'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and not __fish_seen_subcommand_from add list expire help" -f -a "expire" -d 'End a silence now'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and not __fish_seen_subcommand_from add list expire help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from add" -l account -d 'The account id, as in [[account]] id' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from add" -l source -d 'The source name, as in [[source]] name' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from add" -l kind -d 'The kind of finding, like new_payee or balance_drop' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from add" -l for -d 'For how long, like 2h or 3d (at most 36500d)' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from add" -l comment -d 'Why, for whoever reads the list later' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from add" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from add" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from list" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from list" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from list" -l all
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from expire" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from expire" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from expire" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from help" -f -a "add" -d 'Mute alerts that match every given matcher (at least one) for a while'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from help" -f -a "list" -d 'Show the silences in force (and with --all, the ended ones too)'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from help" -f -a "expire" -d 'End a silence now'
complete -c payguard -n "__fish_payguard_using_subcommand silence; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c payguard -n "__fish_payguard_using_subcommand status" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand status" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand status" -l json -d 'One JSON object on stdout'
complete -c payguard -n "__fish_payguard_using_subcommand status" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand history" -l source -d 'The source, when two sources have an account of that id' -r
complete -c payguard -n "__fish_payguard_using_subcommand history" -l since -d 'From (a date, an RFC 3339 time, or an age like 30d); default 30 days ago' -r
complete -c payguard -n "__fish_payguard_using_subcommand history" -l until -d 'Until (same forms); default now' -r
complete -c payguard -n "__fish_payguard_using_subcommand history" -l format -r -f -a "table\t''
csv\t''
json\t''"
complete -c payguard -n "__fish_payguard_using_subcommand history" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand history" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand history" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand export" -l account -d 'The account id, as in [[account]] id' -r
complete -c payguard -n "__fish_payguard_using_subcommand export" -l source -d 'The source, when two sources have an account of that id' -r
complete -c payguard -n "__fish_payguard_using_subcommand export" -l since -d 'From (a date, an RFC 3339 time, or an age like 30d)' -r
complete -c payguard -n "__fish_payguard_using_subcommand export" -l until -d 'Until (same forms); default now' -r
complete -c payguard -n "__fish_payguard_using_subcommand export" -l out -d 'The directory to create (it must not exist, or be empty)' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand export" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand export" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand export" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand alerts" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand alerts" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand alerts" -l all
complete -c payguard -n "__fish_payguard_using_subcommand alerts" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand payees" -l source -r
complete -c payguard -n "__fish_payguard_using_subcommand payees" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand payees" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand payees" -l recurring -d 'Instead, the payments seen monthly in the last year, as [[account.expected]] rules to paste under the account (missing_payment, amount_changed)'
complete -c payguard -n "__fish_payguard_using_subcommand payees" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand imap-test" -l source -d 'The [[source]] name, of kind "imap"' -r
complete -c payguard -n "__fish_payguard_using_subcommand imap-test" -l limit -d 'How many of the latest mails (at most 500)' -r
complete -c payguard -n "__fish_payguard_using_subcommand imap-test" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand imap-test" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand imap-test" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand trust" -l source -r
complete -c payguard -n "__fish_payguard_using_subcommand trust" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand trust" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand trust" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand ack" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand ack" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand ack" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand verify" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand verify" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand verify" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand init" -l simplefin -d 'A SimpleFIN setup token (it works once)' -r
complete -c payguard -n "__fish_payguard_using_subcommand init" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand init" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand init" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand simplefin-claim" -l out -d 'Where to write the access URL; created with mode 0600' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand simplefin-claim" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand simplefin-claim" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand simplefin-claim" -l force -d 'Replace FILE if it exists'
complete -c payguard -n "__fish_payguard_using_subcommand simplefin-claim" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand gocardless-link" -l country -d 'Your bank\'s country (two letters, like DE): lists its banks' -r
complete -c payguard -n "__fish_payguard_using_subcommand gocardless-link" -l institution -d 'The bank\'s institution id, from that list: creates the link' -r
complete -c payguard -n "__fish_payguard_using_subcommand gocardless-link" -l days -d 'How many days the access lasts (most banks allow at most 90)' -r
complete -c payguard -n "__fish_payguard_using_subcommand gocardless-link" -l redirect -d 'Where the bank sends your browser after consent; payguard does not need it' -r
complete -c payguard -n "__fish_payguard_using_subcommand gocardless-link" -l api-base -d 'The API\'s address (a copy of it on this machine may use plain http)' -r
complete -c payguard -n "__fish_payguard_using_subcommand gocardless-link" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand gocardless-link" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand gocardless-link" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l application-id -d 'Your application\'s id, from the Enable Banking control panel' -r
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l private-key -d 'The application\'s private key (PEM) that signs the requests' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l country -d 'Your bank\'s country (two letters, like FI): without --bank, lists its banks' -r
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l bank -d 'The bank\'s name, as that list writes it: starts the authorisation' -r
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l days -d 'How many days the access lasts (at most what the bank allows)' -r
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l redirect-url -d 'Where the bank sends your browser after consent: one registered for the application' -r
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l out -d 'Where to write the session id; created with mode 0600' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l api-base -d 'The API\'s address (a copy of it on this machine may use plain http)' -r
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -l force -d 'Replace FILE if it exists'
complete -c payguard -n "__fish_payguard_using_subcommand enablebanking-link" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand completions" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand completions" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand completions" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand man" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand man" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand man" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand agent" -l socket -d 'The daemon\'s control socket' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand agent" -l config -d 'The configuration file' -r -F
complete -c payguard -n "__fish_payguard_using_subcommand agent" -l log-level -d 'Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works' -r
complete -c payguard -n "__fish_payguard_using_subcommand agent" -s h -l help -d 'Print help'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "check" -d 'Validate the configuration and show what would be watched, and when'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "once" -d 'Poll every source once, store, detect, print and send what fired'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "run" -d 'Run the daemon: every source on its schedule until SIGINT or SIGTERM'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "reload" -d 'Make the running daemon read its configuration again, and say whether it now runs (exit 0) or was refused (exit 78, with the error; the previous configuration keeps running). Exit 75 when no daemon listens. SIGHUP does the same without waiting for the outcome'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "demo" -d 'Play a scripted incident against the built-in simulated platform'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "notify-test" -d 'Send a test message through each channel now, and say which worked'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "silence" -d 'Mute alerts for a while'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "status" -d 'How each source and account is doing, what is firing, what is owed'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "history" -d 'The balances and transactions kept for an account'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "export" -d 'Write an evidence bundle for one account (CSV, JSON, an HTML report, a SHA-256 manifest) into a new or empty directory, to hand to the platform, the bank or the police'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "alerts" -d 'The alerts that are firing (with --all, every alert kept)'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "payees" -d 'Who an account has paid or been paid by'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "imap-test" -d 'Show which rule of an imap source matches each of the latest mails, and what it reads (read-only; nothing is stored)'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "trust" -d 'Trust a payee of an account: payments to it never raise new_payee'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "ack" -d 'Acknowledge an alert, or every alert of an incident: a person has seen it, so it is not repeated'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "verify" -d 'Check that the store\'s audit log is intact: every entry hashes right and links to the last, and no entry its anchor recorded is missing (exit 1 at a broken link, 65 for lost entries)'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "init" -d 'Write a first config where --config points (mode 0600; never overwrites): a SimpleFIN source, its accounts, a console and a desktop channel. With --simplefin, claim the setup token into a file beside it and list the accounts the bridge reads'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "simplefin-claim" -d 'Exchange a SimpleFIN setup token for its access URL, written to a file only you can read. Needs no config: this is the step before writing one'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "gocardless-link" -d 'Link your bank through GoCardless Bank Account Data: list a country\'s banks, create the agreement and the link to open, wait until you have given your bank\'s consent, and print the accounts and the config lines. Reads the user secrets from $PAYGUARD_GOCARDLESS_SECRET_ID and $PAYGUARD_GOCARDLESS_SECRET_KEY. Needs no config'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "enablebanking-link" -d 'Link your bank through Enable Banking (EU/EEA): list a country\'s banks, or start the authorisation, print the link to open, read the address your bank sent the browser back to from stdin, and write the session id to a file only you can read. Prints the accounts and the config lines. Needs no config'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "completions" -d 'Print the completion script for a shell (bash, zsh, fish, elvish, powershell)'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "man" -d 'Print the manual page (roff), e.g. `payguard man | man -l -`'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "agent" -d 'Show a running daemon\'s alerts as desktop notifications in this session, for a daemon run as a system service (which cannot reach your desktop). Needs no config'
complete -c payguard -n "__fish_payguard_using_subcommand help; and not __fish_seen_subcommand_from check once run reload demo notify-test silence status history export alerts payees imap-test trust ack verify init simplefin-claim gocardless-link enablebanking-link completions man agent help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c payguard -n "__fish_payguard_using_subcommand help; and __fish_seen_subcommand_from silence" -f -a "add" -d 'Mute alerts that match every given matcher (at least one) for a while'
complete -c payguard -n "__fish_payguard_using_subcommand help; and __fish_seen_subcommand_from silence" -f -a "list" -d 'Show the silences in force (and with --all, the ended ones too)'
complete -c payguard -n "__fish_payguard_using_subcommand help; and __fish_seen_subcommand_from silence" -f -a "expire" -d 'End a silence now'
