# shellcheck shell=bash
# methods.sh: what a delivery method's image recipe (scripts/images/<method>.sh) shares, sourced
# after lib.sh. A recipe names its images with `published_archives`; node.sh preloads the
# archives of every method `harness images build` lists in $HARNESS_METHODS (the registry's
# methods that have images), so adding a method needs no edit here or in node.sh.

# published_archives IMAGE...: records where this recipe saves IMAGE's docker archive, in
# $IMAGES_CACHE/methods/<method>.archives (one path per line).
published_archives() {
  local method img list
  method=$(basename "$0" .sh)
  list=$IMAGES_CACHE/methods/$method.archives
  mkdir -p "$IMAGES_CACHE/methods"
  for img in "$@"; do printf '%s/%s\n' "$OUT" "$(image_tar_name "$img")"; done >"$list"
}

# method_archives METHOD: the archive paths METHOD's recipe published.
method_archives() {
  local list=$IMAGES_CACHE/methods/$1.archives
  [[ -f $list ]] || fail "scripts/images/$1.sh published no image archives ($list)"
  cat "$list"
}

# registry_methods: the methods `harness images build` passed, or a clear failure.
registry_methods() {
  [[ -n ${HARNESS_METHODS+x} ]] || fail "HARNESS_METHODS is unset: run this through \`harness images build\`, which lists the registry's methods"
  # shellcheck disable=SC2086 # a space-separated list, split on purpose
  printf '%s\n' $HARNESS_METHODS
}
