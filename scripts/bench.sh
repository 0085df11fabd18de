#!/usr/bin/env bash
# custody benchmark: measures the hot paths against this machine's own limits and peers, in
# one run, and prints a Markdown table of ratios (BENCHMARKS.md records one such run).
#
#   scripts/bench.sh                  # ledgers of 10k, 100k and 1M records (minutes, ~2 GB disk)
#   SIZES="10000 100000" scripts/bench.sh
#   WORK=/path/with/space scripts/bench.sh
#
# Needs: the Rust toolchain, openssl, sha256sum, git, /usr/bin/time. Nothing is timed by a
# test: these numbers are for people, and they vary with the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 100000 1000000"}
WORK=${WORK:-$(mktemp -d /tmp/custody-bench.XXXXXX)}
mkdir -p "$WORK"
cargo build --release --quiet
B="$PWD/target/release/custody"
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }
rate() { echo "scale=0; $1 / $2" | bc -l; }
peak_kb() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }
# The median of five runs of a command, in milliseconds, process start to end ({} in the
# command is replaced by the run's number, 1 to 5). One run is too noisy on a shared machine.
median_ms() {
  local i t0 t1 times=()
  for i in 1 2 3 4 5; do
    local cmd=("${@//\{\}/$i}")
    t0=$(now); "${cmd[@]}" >/dev/null 2>&1; t1=$(now)
    times+=("$(echo "($t1 - $t0) * 1000" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

cd "$WORK"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d)" >&2
"$B" key generate ledger --dir keys >/dev/null

# 1. Media hashing of a 1 GiB file.
head -c 1073741824 /dev/urandom > big.bin
cat big.bin > /dev/null
t0=$(now); sha256sum big.bin >/dev/null; t1=$(now)
sum_s=$(secs "$t0" "$t1")
"$B" init --ledger hash-ledger --origin bench.example/hash --key keys/ledger.key >/dev/null
t0=$(now); "$B" add media --ledger hash-ledger --key keys/ledger.key big.bin >/dev/null 2>&1; t1=$(now)
ours_s=$(secs "$t0" "$t1")
# The same file sealed into a sealed ledger's content store (add media --seal): hashed,
# encrypted to a fresh item key and written, streamed; with the peak memory.
"$B" key generate-recipient hq --dir keys >/dev/null
"$B" init --ledger seal-ledger --origin bench.example/seal --key keys/ledger.key --seal-to keys/hq.recipient >/dev/null
t0=$(now); seal_kb=$(peak_kb "$B" add media --ledger seal-ledger --key keys/ledger.key --seal big.bin); t1=$(now)
seal_s=$(secs "$t0" "$t1")
seal_mbs=$(echo "1073.741824 / $seal_s" | bc -l)
rm -rf seal-ledger
ossl_kbs=$(openssl speed -seconds 3 -bytes 16384 -evp sha256 2>/dev/null | awk '/^sha256/ {print $NF}' | tr -d k)
ours_mbs=$(echo "1073.741824 / $ours_s" | bc -l)
sum_mbs=$(echo "1073.741824 / $sum_s" | bc -l)
ossl_mbs=$(echo "$ossl_kbs / 1000" | bc -l)
rm big.bin

# 2. Peers: OpenSSL Ed25519 on one core, git commits.
read -r sign_s verify_s < <(openssl speed -seconds 3 ed25519 2>/dev/null | awk '/Ed25519/ {print $(NF-1), $NF}')
# Our own signer (ed25519-dalek), the real ceiling of an append rate: one core and all.
our_sign_1=$("$B" bench-sign --seconds 3 --cores 1 | awk '{print $1}')
our_sign_all=$("$B" bench-sign --seconds 3 | awk '{print $1}')
git init -q gitrepo && git -C gitrepo -c user.email=b@e -c user.name=b commit -q --allow-empty -m 0
t0=$(now); for i in $(seq 1 200); do git -C gitrepo -c user.email=b@e -c user.name=b commit -q --allow-empty -m "$i"; done; t1=$(now)
git_per_s=$(rate 200 "$(secs "$t0" "$t1")")
git_one_ms=$(echo "1000 / $git_per_s" | bc -l)

printf '\n| measure | custody | reference | ratio | goal |\n|---|---|---|---|---|\n'
printf '| hash 1 GiB (MB/s) | %.0f | sha256sum %.0f | %.2fx | >= 3x |\n' "$ours_mbs" "$sum_mbs" "$(ratio "$ours_mbs" "$sum_mbs")"
printf '| hash 1 GiB (MB/s) | %.0f | openssl -evp sha256 %.0f | %.2f | >= 0.85 |\n' "$ours_mbs" "$ossl_mbs" "$(ratio "$ours_mbs" "$ossl_mbs")"
printf '| hash and seal 1 GiB, add media --seal (MB/s) | %.0f | sha256sum %.0f | %.2fx | |\n' "$seal_mbs" "$sum_mbs" "$(ratio "$seal_mbs" "$sum_mbs")"
printf '| add media --seal 1 GiB: peak memory (MB) | %s | | | flat |\n' "$(rate "$seal_kb" 1024)"

for n in $SIZES; do
  L="ledger-$n"
  "$B" init --ledger "$L" --origin "bench.example/$n" --key keys/ledger.key >/dev/null
  t0=$(now); "$B" bulk-append --ledger "$L" --key keys/ledger.key --count "$n" >/dev/null; t1=$(now)
  app_s=$(secs "$t0" "$t1"); app_rate=$(rate "$n" "$app_s")
  printf '| %s: bulk append (records/s) | %s | our signer %s/s on all cores (%s/s on one); openssl sign/s %s; git commits/s %s | %sx our signer, %sx git | >= 50,000/s |\n' \
    "$n" "$app_rate" "$our_sign_all" "$our_sign_1" "$sign_s" "$git_per_s" "$(ratio "$app_rate" "$our_sign_all")" "$(ratio "$app_rate" "$git_per_s")"
  t0=$(now); kb=$(peak_kb "$B" audit --ledger "$L"); t1=$(now)
  aud_s=$(secs "$t0" "$t1"); aud_rate=$(rate "$n" "$aud_s")
  printf '| %s: full audit (records/s) | %s | openssl verify/s (1 core) %s | %sx | >= 10x |\n' "$n" "$aud_rate" "$verify_s" "$(ratio "$aud_rate" "$verify_s")"
  printf '| %s: audit peak memory (MB) | %s | | | <= 100, flat |\n' "$n" "$(rate "$kb" 1024)"
  t0=$(now); "$B" audit --ledger "$L" --strict-signatures >/dev/null; t1=$(now)
  strict_rate=$(rate "$n" "$(secs "$t0" "$t1")")
  printf '| %s: full audit, signatures one by one (records/s) | %s | openssl verify/s (1 core) %s | %sx | |\n' "$n" "$strict_rate" "$verify_s" "$(ratio "$strict_rate" "$verify_s")"
  mid=$((n / 2))
  # Medians of five runs each (see median_ms).
  printf '| %s: inclusion proof incl. open (ms, median of 5) | %.0f | | | <= 30 |\n' "$n" "$(median_ms "$B" prove --ledger "$L" "$mid")"
  printf '| %s: bundle export of one record (ms, median of 5) | %.0f | | | <= 30 |\n' "$n" "$(median_ms "$B" export --ledger "$L" --key keys/ledger.key --out "bundle-$n-{}.zip" "$mid")"
  printf '| %s: open + read one record (ms, median of 5) | %.0f | | | <= 30 |\n' "$n" "$(median_ms "$B" log --ledger "$L" --from "$mid" --to "$mid")"
  for i in 1 2 3 4 5; do echo "one $n $i" > "one-$n-$i.bin"; done
  add_ms=$(median_ms "$B" add media --ledger "$L" --key keys/ledger.key "one-$n-{}.bin")
  printf '| %s: one `custody add` (ms, median of 5) | %.0f | one git commit %.0f | %.2fx | <= 4x |\n' "$n" "$add_ms" "$git_one_ms" "$(ratio "$add_ms" "$git_one_ms")"
  disk=$(du -sb "$L" | cut -f1); journal=$(stat -c %s "$L/journal")
  printf '| %s: bytes on disk per record | %s | journal (raw records) %s | %sx | <= 2.5x |\n' "$n" "$(rate "$disk" "$n")" "$(rate "$journal" "$n")" "$(ratio "$disk" "$journal")"
done
echo >&2
echo "work directory: $WORK (remove it when done)" >&2
