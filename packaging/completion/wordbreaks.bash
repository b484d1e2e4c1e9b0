
# Added by capdeck's build (packaging/completion/wordbreaks.bash) after the generated script above.
# bash splits the line at COMP_WORDBREAKS, ':' and '=' among them, so `-D hw:CARD=PCH,DEV=0`
# reaches a completion function as five words and the generated one would complete after the last
# only. This joins what the line holds without a blank between (as bash-completion's
# _get_comp_words_by_ref does), completes the whole word, and hands readline back only what
# follows the last break, which is the part it replaces.
_capdeck_joined() {
    local line="${COMP_LINE}" word
    local -a joined=()
    local -i i cword=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        word="${COMP_WORDS[i]}"
        if [[ ${#joined[@]} -gt 0 && "${line}" != [[:blank:]]* ]]; then
            joined[${#joined[@]}-1]+="${word}"
        else
            line="${line#"${line%%[![:blank:]]*}"}"
            joined+=("${word}")
        fi
        line="${line#"${word}"}"
        [[ ${i} -eq ${COMP_CWORD} ]] && cword=$((${#joined[@]} - 1))
    done
    local whole="${joined[cword]}" part="${2}"
    local -a COMP_WORDS=("${joined[@]}")
    local COMP_CWORD=${cword}
    local prev=""
    [[ ${cword} -gt 0 ]] && prev="${joined[cword-1]}"
    _capdeck "${1}" "${whole}" "${prev}"
    local lead="${whole%"${part}"}"
    if [[ -n "${lead}" ]]; then
        for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]="${COMPREPLY[i]#"${lead}"}"; done
    fi
}
complete -o filenames -F _capdeck_joined capdeck
