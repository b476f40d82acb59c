# bash completion for clvae: commands, and each command's --options read from `clvae help
# COMMAND` (so it always matches the program); files and folders for the rest.
_clvae() {
  local cur=${COMP_WORDS[COMP_CWORD]} prog=${COMP_WORDS[0]} cmd="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case $w in
      --device) ((i++)) ;;
      -*) ;;
      *) cmd=$w; break ;;
    esac
  done
  if [ -z "$cmd" ]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "--device -v --help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$("$prog" --help 2>/dev/null | awk '/^commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}')" -- "$cur"))
    fi
    return
  fi
  if [ "$cmd" = help ]; then
    COMPREPLY=($(compgen -W "$("$prog" --help 2>/dev/null | awk '/^commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}')" -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$("$prog" help "$cmd" 2>/dev/null | grep -o -- '--[a-z0-9-]*' | sort -u) --device" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _clvae clvae
