#!/bin/sh
# A fake nvidia-smi: shows the GPUs the fake device plugin allocated to this container.
#
# The plugin's Allocate sets NVIDIA_VISIBLE_DEVICES (the GPU or MIG ids, as NVIDIA's plugin does)
# and what a driver would know: FAKE_GPU_NAME, FAKE_GPU_MEMORY_MIB (of a GPU, or of a MIG slice),
# FAKE_GPU_BUS_IDS; for MIG slices FAKE_GPU_MIG_PROFILE and FAKE_GPU_MIG_PARENTS (each slice's
# GPU id); for a time-sliced GPU FAKE_GPU_REPLICAS. POSIX sh only: lab images may have no Python.
# Supports the table (no arguments), -L, and --query-gpu=FIELDS --format=csv[,noheader][,nounits].
set -eu

DRIVER_VERSION="535.129.03"
CUDA_VERSION="12.2"
name="${FAKE_GPU_NAME:-NVIDIA A100-SXM4-40GB (fake)}"
memory_mib="${FAKE_GPU_MEMORY_MIB:-40960}"
visible="${NVIDIA_VISIBLE_DEVICES:-}"
bus_ids="${FAKE_GPU_BUS_IDS:-}"
mig_profile="${FAKE_GPU_MIG_PROFILE:-}"
mig_parents="${FAKE_GPU_MIG_PARENTS:-}"
replicas="${FAKE_GPU_REPLICAS:-1}"

usage() {
    cat <<'USAGE'
NVIDIA System Management Interface (fake, for clusters without GPUs)

    nvidia-smi                 table of the GPUs visible to this container
    nvidia-smi -L              one line per GPU: index, name, UUID (and its MIG devices)
    nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,memory.total,memory.used,memory.free,utilization.gpu
               --format=csv[,noheader][,nounits]
USAGE
}

invalid() {
    echo "$1" >&2
    echo "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help." >&2
    exit 2
}

# field N LIST: the N-th (0-based) comma-separated entry of LIST, empty if there is none.
field() {
    _n=$1
    _rest=$2,
    while [ "$_n" -gt 0 ]; do
        case $_rest in
            *,*) _rest=${_rest#*,} ;;
            *) _rest= ;;
        esac
        _n=$((_n - 1))
    done
    printf '%s' "${_rest%%,*}"
}

count=0
case $visible in
    "" | none | void | all) ;; # no fake device ids were allocated to this container
    *)
        rest=$visible,
        while [ -n "$rest" ]; do
            count=$((count + 1))
            rest=${rest#*,}
        done
        ;;
esac

uuid_of() { field "$1" "$visible"; }
bus_of() {
    _bus=$(field "$1" "$bus_ids")
    [ -n "$_bus" ] || _bus=$(printf '00000000:%02X:00.0' $((16 + $1)))
    printf '%s' "$_bus"
}
# nvidia-smi cuts names that do not fit the table's column.
short_name() {
    if [ ${#name} -gt 28 ]; then
        printf '%.25s...' "$name"
    else
        printf '%s' "$name"
    fi
}

shared_note() {
    printf 'Shared: time-slicing, %s replicas of this GPU (other containers may use it too)' "$replicas"
}

# As on a MIG-enabled GPU: each GPU once, then its MIG devices numbered from 0 on that GPU.
list_gpus() {
    i=0
    gpu=-1
    previous=""
    while [ "$i" -lt "$count" ]; do
        if [ -n "$mig_profile" ]; then
            parent=$(field "$i" "$mig_parents")
            if [ "$parent" != "$previous" ]; then
                gpu=$((gpu + 1))
                slice=0
                previous=$parent
                printf 'GPU %d: %s (UUID: %s)\n' "$gpu" "$name" "$parent"
            fi
            printf '  MIG %-12sDevice %2d: (UUID: %s)\n' "$mig_profile" "$slice" "$(uuid_of "$i")"
            slice=$((slice + 1))
        else
            printf 'GPU %d: %s (UUID: %s)\n' "$i" "$name" "$(uuid_of "$i")"
            [ "$replicas" -gt 1 ] && printf '  %s\n' "$(shared_note)"
        fi
        i=$((i + 1))
    done
}

table() {
    rule='+-----------------------------------------+----------------------+----------------------+'
    mig_mode=Disabled
    [ -n "$mig_profile" ] && mig_mode=Enabled
    date '+%a %b %e %H:%M:%S %Y       '
    echo '+---------------------------------------------------------------------------------------+'
    printf '| %-85s |\n' "NVIDIA-SMI $DRIVER_VERSION (fake)   Driver Version: $DRIVER_VERSION   CUDA Version: $CUDA_VERSION"
    echo '|-----------------------------------------+----------------------+----------------------+'
    echo '| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |'
    echo '| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |'
    echo '|                                         |                      |               MIG M. |'
    echo '|=========================================+======================+======================|'
    i=0
    while [ "$i" -lt "$count" ]; do
        printf '| %3d  %-28s %4s  | %16s %3s | %20s |\n' "$i" "$(short_name)" On "$(bus_of "$i")" Off 0
        printf '| N/A   %2dC    P0 %23s | %20s |%8s%13s |\n' 32 "43W / 400W" "0MiB / ${memory_mib}MiB" "0%" Default
        printf '| %39s | %20s | %20s |\n' "" "" "$mig_mode"
        if [ -n "$mig_profile" ]; then
            printf '| %-85s |\n' "  MIG $mig_profile  $(uuid_of "$i")"
        elif [ "$replicas" -gt 1 ]; then
            printf '| %-85s |\n' "  $(shared_note)"
        fi
        echo "$rule"
        i=$((i + 1))
    done
    printf '%89s\n' ""
    echo '+---------------------------------------------------------------------------------------+'
    echo '| Processes:                                                                            |'
    echo '|  GPU   GI   CI        PID   Type   Process name                            GPU Memory |'
    echo '|        ID   ID                                                             Usage      |'
    echo '|=======================================================================================|'
    echo '|  No running processes found                                                           |'
    echo '+---------------------------------------------------------------------------------------+'
}

# query_value FIELD INDEX UNITS: one cell of --query-gpu output.
query_value() {
    case $1 in
        index) printf '%d' "$2" ;;
        name) printf '%s' "$name" ;;
        uuid | gpu_uuid) uuid_of "$2" ;;
        pci.bus_id | gpu_bus_id) bus_of "$2" ;;
        memory.total) printf '%s%s' "$memory_mib" "$3" ;;
        memory.used) printf '0%s' "$3" ;;
        memory.free) printf '%s%s' "$memory_mib" "$3" ;;
        utilization.gpu) printf '0%s' "$4" ;;
        *) invalid "Field \"$1\" is not a valid field to query." ;;
    esac
}

query_header() {
    case $1 in
        memory.total | memory.used | memory.free) printf '%s%s' "$1" "$2" ;;
        utilization.gpu) printf '%s%s' "$1" "$3" ;;
        *) printf '%s' "$1" ;;
    esac
}

query() {
    fields=$1
    header=yes
    mib_unit=" MiB"
    percent_unit=" %"
    mib_header=" [MiB]"
    percent_header=" [%]"
    old_ifs=$IFS
    IFS=,
    for option in $2; do
        case $option in
            csv) ;;
            noheader) header=no ;;
            nounits) mib_unit="" percent_unit="" mib_header="" percent_header="" ;;
            *) IFS=$old_ifs invalid "\"$option\" is not a valid format option." ;;
        esac
    done
    for f in $fields; do query_value "$f" 0 "" "" >/dev/null; done
    if [ "$header" = yes ]; then
        line=""
        for f in $fields; do
            line="$line${line:+, }$(query_header "$f" "$mib_header" "$percent_header")"
        done
        printf '%s\n' "$line"
    fi
    i=0
    while [ "$i" -lt "$count" ]; do
        line=""
        for f in $fields; do
            line="$line${line:+, }$(query_value "$f" "$i" "$mib_unit" "$percent_unit")"
        done
        printf '%s\n' "$line"
        i=$((i + 1))
    done
    IFS=$old_ifs
}

mode=table
query_fields=""
format=""
for argument in "$@"; do
    case $argument in
        -h | --help) usage; exit 0 ;;
        -L | --list-gpus) mode=list ;;
        --query-gpu=*) mode=query query_fields=${argument#--query-gpu=} ;;
        --format=*) format=${argument#--format=} ;;
        *) invalid "Unknown option: $argument" ;;
    esac
done

if [ "$mode" = query ] && [ -z "$format" ]; then
    invalid "--query-gpu needs --format=csv"
fi
if [ "$count" -eq 0 ]; then
    echo "No devices were found"
    exit 6
fi
case $mode in
    list) list_gpus ;;
    query) query "$query_fields" "$format" ;;
    table) table ;;
esac
