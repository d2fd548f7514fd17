# bash completion for modelvol(1). SPDX-License-Identifier: Apache-2.0
#
# Commands, each command's options, option values (files, directories, booleans, progress
# modes) and model names (from `modelvol -q ls` on the store --root names). Needs nothing
# from the bash-completion package. tests/integration/test-completion.sh checks the tables
# below against the binary's --help, so a new command or option fails the tests until it is
# added here.

_modelvol_commands="pull import login logout ls inspect verify path mount umount cdi rm prune fsck df metrics watch"
_modelvol_global_opts="--root --json --quiet -q --verbose -v --help"

# Options of each command (global options come on top).
_modelvol_opts_pull="--name --tls-verify --authfile --cert-dir --registries-conf --jobs -j --timeout --low-speed-time --policy --registries-d --signature-mode --low-speed-limit --progress"
_modelvol_opts_import="--name --jobs -j --progress"
_modelvol_opts_login="--username -u --password-stdin --authfile --tls-verify --cert-dir"
_modelvol_opts_logout="--authfile"
_modelvol_opts_ls=""
_modelvol_opts_inspect=""
_modelvol_opts_verify="--policy --registries-d"
_modelvol_opts_path=""
_modelvol_opts_mount="--subpath --noexec"
_modelvol_opts_umount=""
_modelvol_opts_cdi="--output -o --mount-dir"
_modelvol_opts_rm=""
_modelvol_opts_prune="--dry-run -n"
_modelvol_opts_fsck=""
_modelvol_opts_df=""
_modelvol_opts_metrics="--textfile --listen"
_modelvol_opts_watch=""

# What the value of an option is: file, dir, bool, progress, or text (no completion).
# Options not listed take no value.
_modelvol_value_kind() {
  case $1 in
    --root | --cert-dir | --output | -o | --mount-dir | --subpath | --registries-d) echo dir ;;
    --authfile | --registries-conf | --textfile | --policy) echo file ;;
    --tls-verify) echo bool ;;
    --progress) echo progress ;;
    --signature-mode) echo signature-mode ;;
    --name | --jobs | -j | --timeout | --low-speed-time | --low-speed-limit | --username | -u \
      | --listen)
      echo text ;;
    *) echo none ;;
  esac
}

# _modelvol_reply CUR CANDIDATES...: the candidates starting with CUR. bash replaces only
# the part of the word after its last word break (':' and '=' by default), so that part of
# CUR is taken off the replies: references (host:port/repo:tag) complete whole.
_modelvol_reply() {
  local cur=$1 c pre=""
  shift
  COMPREPLY=()
  for c in "$@"; do
    [[ $c == "$cur"* ]] && COMPREPLY+=("$c")
  done
  if [[ $cur == *[:=]* ]]; then
    pre=${cur%"${cur##*[:=]}"}
    [[ $COMP_WORDBREAKS == *"${pre: -1}"* ]] && COMPREPLY=("${COMPREPLY[@]#"$pre"}")
  fi
  return 0
}

# _modelvol_value KIND CUR: completes an option's value.
_modelvol_value() {
  local kind=$1 cur=$2
  case $kind in
    dir)
      compopt -o filenames 2>/dev/null || true
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      ;;
    file)
      compopt -o filenames 2>/dev/null || true
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      ;;
    bool) _modelvol_reply "$cur" true false ;;
    progress) _modelvol_reply "$cur" auto tty plain json none ;;
    signature-mode) _modelvol_reply "$cur" enforce audit ;;
    *) COMPREPLY=() ;;
  esac
}

# _modelvol_models PROG ROOT CUR: model names and unnamed models' digests of the store.
_modelvol_models() {
  local prog=$1 root=$2 cur=$3 models
  local -a args=()
  [ -n "$root" ] && args=(--root "$root")
  models=$("$prog" "${args[@]}" -q ls 2>/dev/null) || models=""
  # shellcheck disable=SC2086  # names and digests have no blanks
  _modelvol_reply "$cur" $models
}

_modelvol() {
  local line=${COMP_LINE:0:COMP_POINT} cur prev="" cmd="" root="" w i n_args=0 kind opts
  local -a words
  read -ra words <<<"$line"
  # The word being completed: empty after a blank, else the last word.
  if [[ $line =~ [[:space:]]$ ]] || [ ${#words[@]} -le 1 ]; then
    cur=""
    [ ${#words[@]} -eq 0 ] && words=(modelvol)
  else
    cur=${words[-1]}
    unset 'words[-1]'
  fi
  [ ${#words[@]} -gt 1 ] && prev=${words[-1]}

  # Find the command, --root and the positional arguments so far, skipping option values.
  for ((i = 1; i < ${#words[@]}; i++)); do
    w=${words[i]}
    case $w in
      --root=*) root=${w#--root=} ;;
      -*=*) ;;
      -*)
        kind=$(_modelvol_value_kind "$w")
        if [ "$kind" != none ]; then
          [ "$w" = --root ] && root=${words[i + 1]:-}
          i=$((i + 1))
        fi
        ;;
      *)
        if [ -z "$cmd" ]; then cmd=$w; else n_args=$((n_args + 1)); fi
        ;;
    esac
  done

  # An option's value: "--opt VALUE" or "--opt=VALUE".
  if [[ $cur == --*=* ]]; then
    kind=$(_modelvol_value_kind "${cur%%=*}")
    _modelvol_value "$kind" "${cur#*=}"
    return 0
  fi
  if [[ $prev == -* ]] && [[ $prev != *=* ]]; then
    kind=$(_modelvol_value_kind "$prev")
    if [ "$kind" != none ]; then
      _modelvol_value "$kind" "$cur"
      return 0
    fi
  fi

  if [[ $cur == -* ]]; then
    if [ -z "$cmd" ]; then
      # shellcheck disable=SC2086
      _modelvol_reply "$cur" $_modelvol_global_opts --version
    else
      opts=_modelvol_opts_${cmd}
      # shellcheck disable=SC2086
      _modelvol_reply "$cur" ${!opts:-} $_modelvol_global_opts
    fi
    return 0
  fi

  if [ -z "$cmd" ]; then
    # shellcheck disable=SC2086
    _modelvol_reply "$cur" $_modelvol_commands
    return 0
  fi

  case $cmd in
    inspect | verify | path | rm) _modelvol_models "${words[0]}" "$root" "$cur" ;;
    mount)
      if [ $n_args -eq 0 ]; then
        _modelvol_models "${words[0]}" "$root" "$cur"
      else
        _modelvol_value dir "$cur"
      fi
      ;;
    umount) [ $n_args -eq 0 ] && _modelvol_value dir "$cur" ;;
    cdi) [ $n_args -eq 0 ] && _modelvol_reply "$cur" generate ;;
    import)
      if [ $n_args -eq 0 ]; then
        if [[ $cur == oci:* ]]; then
          # oci:DIR: the layout directories, with the "oci:" bash keeps as its own word.
          compopt -o filenames 2>/dev/null || true
          mapfile -t COMPREPLY < <(compgen -d -- "${cur#oci:}")
        else
          compopt -o nospace 2>/dev/null || true
          _modelvol_reply "$cur" oci:
        fi
      fi
      ;;
    *) COMPREPLY=() ;;
  esac
  return 0
}

complete -F _modelvol modelvol
