#!/bin/sh
# Start Alertmanager on the shipped configuration.
#
# Alertmanager 0.25 reads the Slack/Discord URLs, the SMTP password and the jobwatch
# API token from files (*_file fields), but telegram_configs has no bot_token_file
# before 0.26. This script copies the configuration and its templates to a writable
# directory, puts $TELEGRAM_BOT_TOKEN (or the content of the telegram_bot_token
# secret file) in place of the ${TELEGRAM_BOT_TOKEN} placeholder, and runs
# Alertmanager on the copy with the remaining arguments.
#
#   AM_CONFIG      shipped configuration  (default /etc/alertmanager/alertmanager.yml)
#   AM_RENDER_DIR  where the copy goes    (default /alertmanager/config)
#   AM_BINARY      Alertmanager binary    (default /bin/alertmanager; Debian:
#                  /usr/bin/prometheus-alertmanager)
set -eu

config=${AM_CONFIG:-/etc/alertmanager/alertmanager.yml}
render_dir=${AM_RENDER_DIR:-/alertmanager/config}
binary=${AM_BINARY:-/bin/alertmanager}
config_dir=$(dirname "$config")

token=${TELEGRAM_BOT_TOKEN:-}
if [ -z "$token" ] && [ -r "$config_dir/secrets/telegram_bot_token" ]; then
    token=$(cat "$config_dir/secrets/telegram_bot_token")
fi
# Alertmanager refuses an empty bot_token: without one, Telegram sends fail (and are
# logged) while every other receiver works.
token=${token:-telegram-bot-token-not-configured}
case $token in
    *[!A-Za-z0-9:_-]*)
        echo "alertmanager-entrypoint: TELEGRAM_BOT_TOKEN has characters a bot token cannot have" >&2
        exit 2
        ;;
esac

mkdir -p "$render_dir"
rm -rf "$render_dir/templates"
cp -R "$config_dir/templates" "$render_dir/templates"
sed "s|\${TELEGRAM_BOT_TOKEN}|$token|g" "$config" >"$render_dir/alertmanager.yml"

exec "$binary" --config.file="$render_dir/alertmanager.yml" "$@"
