# bash completion for fexitctl (installed as bash-completion/completions/fexitctl).
# Commands, options and their values; HANDLE arguments are completed from `fexitctl --json list`
# (asked on the same --socket), keeping the handles of the kind the command takes.

# _fexitctl_handles KIND [SOCKET-OPTION...]: the handle numbers of that kind (any: every kind).
_fexitctl_handles() {
    local kind=$1 json
    shift
    json=$(fexitctl "$@" --timeout 2 --json list 2>/dev/null) || return 0
    # Members of a Handle come in the IDL's order: "handle":N,"kind":"K".
    grep -oE '"handle": *[0-9]+, *"kind": *"[a-z]+"' <<<"$json" |
        sed -E 's/"handle": *([0-9]+), *"kind": *"([a-z]+)"/\1 \2/' |
        while read -r handle k; do
            if [ "$kind" = any ] || [ "$kind" = "$k" ]; then echo "$handle"; fi
        done
}

_fexitctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="load attach detach unload list describe take-link share-map status info help version"
    local globals="--socket --json --timeout --help --version"
    local cmd="" cmd_at=0 handle_at=0 i word
    local -a socket=()
    COMPREPLY=()

    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
        --socket) ((i++)); socket=(--socket "${COMP_WORDS[i]}") ;;
        --timeout | --program | --target-prog | --functions | --lifetime | --grant | --catalog | --fd) ((i++)) ;;
        --socket=*) socket=("$word") ;;
        --) [ -n "$cmd" ] && [ $handle_at -gt 0 ] && break ;;
        -*) ;;
        *)
            if [ -z "$cmd" ]; then
                cmd=$word cmd_at=$i
            elif [ $handle_at = 0 ]; then
                handle_at=$i
            else
                break   # take-link/share-map: COMMAND follows the handle
            fi
            ;;
        esac
    done
    # After take-link/share-map HANDLE [--] COMMAND: complete the command and its arguments.
    if [ $i -lt $COMP_CWORD ] && [[ $cmd == take-link || $cmd == share-map ]]; then
        [ "${COMP_WORDS[i]}" = -- ] && ((i++))
        if [ $i -ge $COMP_CWORD ]; then
            mapfile -t COMPREPLY < <(compgen -c -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
        return 0
    fi

    case $prev in
    --socket) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
    --timeout | --target-prog | --fd | --program | --functions) return 0 ;;
    --lifetime) mapfile -t COMPREPLY < <(compgen -W "persistent connection" -- "$cur"); return 0 ;;
    --grant) mapfile -t COMPREPLY < <(compgen -W "user: group:" -- "$cur"); compopt -o nospace 2>/dev/null; return 0 ;;
    --catalog)
        local names
        names=$(ls /etc/fexitd/programs /usr/lib/fexitd/programs /usr/local/lib/fexitd/programs 2>/dev/null |
                sed -n 's/\.bpf\.o$//p')
        mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
        return 0 ;;
    esac

    if [ -z "$cmd" ]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$globals" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        fi
        return 0
    fi

    local options="" kind=""
    case $cmd in
    load) options="--catalog --program --target-prog --functions --lifetime --grant --attach" ;;
    attach) options="--group --lifetime --grant" kind=program ;;
    detach) options="--group" kind=link ;;
    unload) kind=program ;;
    describe) kind=any ;;
    take-link) options="--fd" kind=link ;;
    share-map) options="--fd" kind=map ;;
    help) [ $COMP_CWORD = $((cmd_at + 1)) ] &&
              mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
          return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$options $globals" -- "$cur")
    elif [ "$cmd" = load ]; then
        mapfile -t COMPREPLY < <(compgen -f -X '!*.o' -- "$cur"; compgen -d -- "$cur")
    elif [ -n "$kind" ] && [ $handle_at = 0 ]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_fexitctl_handles "$kind" "${socket[@]}")" -- "$cur")
    fi
    return 0
}
complete -F _fexitctl fexitctl
