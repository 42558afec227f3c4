# bash completion for cs-ctl(8)
_cs_ctl_names()
{
	# names of a kind from csd, first column of `cs-ctl OBJECT list`
	local obj=$1 sock=()
	[ -n "$2" ] && sock=(-S "$2")
	cs-ctl "${sock[@]}" "$obj" list 2>/dev/null | tail -n +2 | awk '{print $1}'
}

_cs_ctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local objects="tenant vnet endpoint reservation rule node apply export status exec help"
	local verbs="create delete list show"
	local words=() sock="" i w
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-S|--socket) sock=${COMP_WORDS[i+1]}; i=$((i + 1)) ;;
		-*) ;;
		*) words+=("$w") ;;
		esac
	done
	case $prev in
	-S|--socket|-f) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "-S -j --socket --json --help --version" -- "$cur"))
		return
	fi
	# rule: verbs of its own; create's words and their values
	if [ "${words[0]}" = rule ] && [ ${#words[@]} -ge 2 ]; then
		case ${#words[@]},${words[1]} in
		2,*) COMPREPLY=($(compgen -W "$(_cs_ctl_names vnet "$sock")" -- "$cur")) ;;
		3,delete|3,show)
			# the rules of that vnet, by name
			local s=()
			[ -n "$sock" ] && s=(-S "$sock")
			COMPREPLY=($(compgen -W "$(cs-ctl "${s[@]}" rule list "${words[2]}" 2>/dev/null |
				tail -n +2 | awk '{print $1}')" -- "$cur")) ;;
		*,create)
			case $prev in
			proto) COMPREPLY=($(compgen -W "tcp udp icmp any" -- "$cur")) ;;
			action) COMPREPLY=($(compgen -W "allow deny" -- "$cur")) ;;
			from|to)
				COMPREPLY=($(compgen -W "any endpoint: group: cidr:" -- "$cur"))
				[[ ${COMPREPLY[0]-} == *: ]] && compopt -o nospace 2>/dev/null ;;
			ports|name|position) ;;
			*) COMPREPLY=($(compgen -W "from to proto ports action name position" -- "$cur")) ;;
			esac ;;
		esac
		return
	fi
	case ${#words[@]} in
	0) COMPREPLY=($(compgen -W "$objects" -- "$cur")) ;;
	1)
		case ${words[0]} in
		rule) COMPREPLY=($(compgen -W "$verbs check" -- "$cur")) ;;
		tenant|vnet|endpoint) COMPREPLY=($(compgen -W "$verbs set" -- "$cur")) ;;
		reservation|node) COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
		apply) COMPREPLY=($(compgen -W "-f --dry-run --prune" -- "$cur")) ;;
		exec) COMPREPLY=($(compgen -W "$(_cs_ctl_names endpoint "$sock")" -- "$cur")) ;;
		help) COMPREPLY=($(compgen -W "$objects" -- "$cur")) ;;
		esac ;;
	2)
		case ${words[1]} in
		delete|show|list|set) COMPREPLY=($(compgen -W "$(_cs_ctl_names "${words[0]}" "$sock")" -- "$cur")) ;;
		esac ;;
	*)
		[ "${words[0]}" = exec ] && COMPREPLY=($(compgen -c -- "$cur"))
		# create and set: a key where a key comes (the keys create lists)
		case ${words[1]} in
		create|set)
			# endpoint create ... netns PATH: a file
			[ "$prev" = netns ] && COMPREPLY=($(compgen -f -- "$cur"))
			(( ${#words[@]} % 2 == 1 )) && COMPREPLY=($(compgen -W "$(cs-ctl help \
				"${words[0]}" create 2>/dev/null | awk '/^      /{print $1}')" -- "$cur")) ;;
		esac ;;
	esac
}
complete -F _cs_ctl cs-ctl
