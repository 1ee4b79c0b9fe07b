#!/usr/bin/env bash
# Install WordNet 3.0 offline from Debian packages and expose it to nltk as corpora/wordnet (for METEOR).
#
# Debian's wordnet-base ships the WordNet database under /usr/share/wordnet but not the `lexnames` file
# nltk's WordNetCorpusReader opens first, so this script writes it (the 45 fixed lexicographer file names of
# WordNet 3.0, see lexnames(5WN)) and copies the database files (~35 MB) into an nltk_data layout.
#
# Usage: sudo scripts/install_wordnet.sh [NLTK_DATA_DIR]     (default: /usr/share/nltk_data, on nltk's path)
# With another directory, export NLTK_DATA=that/dir before scoring. PYTHON picks the interpreter (python3).
set -euo pipefail

target_root="${1:-/usr/share/nltk_data}"
source_dir=/usr/share/wordnet

if [ ! -f "$source_dir/data.noun" ] || [ ! -f "$source_dir/index.sense" ]; then
    apt-get update
    apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index
fi

target="$target_root/corpora/wordnet"
mkdir -p "$target"
for name in cntlist.rev index.sense index.adj index.adv index.noun index.verb \
            data.adj data.adv data.noun data.verb adj.exc adv.exc noun.exc verb.exc; do
    if [ ! -f "$source_dir/$name" ]; then
        echo "error: $source_dir/$name is missing; reinstall wordnet-base and wordnet-sense-index" >&2
        exit 1
    fi
    cp -f "$source_dir/$name" "$target/$name"  # copies: nltk rejects symlinks that leave its data root
done

lexnames=(adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body
          noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location
          noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process
          noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change
          verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation
          verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather
          adj.ppl)
: > "$target/lexnames"
for i in "${!lexnames[@]}"; do
    name="${lexnames[$i]}"
    printf '%02d\t%s\t%d\n' "$i" "$name" "$(case "${name%%.*}" in noun) echo 1;; verb) echo 2;; adj) echo 3;; adv) echo 4;; esac)" \
        >> "$target/lexnames"
done

NLTK_DATA="$target_root" "${PYTHON:-python3}" - <<'PY'
from nltk.corpus import wordnet
from nltk.translate.meteor_score import meteor_score

assert wordnet.synsets("walk"), "WordNet loaded but found no synsets for 'walk'"
score = meteor_score([["the", "man", "is", "walking"]], ["the", "man", "walks"])
assert 0.0 < score < 1.0, f"unexpected METEOR value {score}"
print(f"WordNet {wordnet.get_version()} ready for nltk; METEOR sanity check = {score:.3f}")
PY
