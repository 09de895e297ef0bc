#!/usr/bin/env bash
# demo.sh — `make demo`: the 诸城市 12345 hotline running end to end on one
# machine. Starts the dispatcher on config/zhucheng-demo.json (deadlines in
# seconds) with a fresh database, auto workers for several towns, grid
# stations and departments (some slower than the deadlines, one station
# without a worker), then plays the hotline centre: a stream of calls
# (repeats, calls without a location), dispatch of what routing left in
# triage, callbacks of resolved tickets, and a manager's 督办 of red-flagged
# ones. Ctrl-C (or DEMO_SECONDS) stops everything it started, by pid.
#
# Environment:
#   DEMO_SECONDS=N   stop after N seconds (default: run until Ctrl-C)
#   DEMO_PORT=P      front socket on P, events on P+1 (default 7450)
#   DEMO_DIR=D       database and logs (default var/demo; emptied at start)
#   DEMO_BIN=D       where the binaries are (default bin)
#   DEMO_INTERVAL=S  seconds between calls (default 2; may be fractional)
#   DEMO_SEED=N      seed of the call stream (default 12345)
set -u
cd "$(dirname "$0")/.."
top=$PWD
export TZ=Asia/Shanghai # the city's clock, as the console shows it

seconds=${DEMO_SECONDS:-0}
port=${DEMO_PORT:-7450}
dir=${DEMO_DIR:-var/demo}
bindir=${DEMO_BIN:-bin}
interval=${DEMO_INTERVAL:-2}
RANDOM=${DEMO_SEED:-12345}
config=config/zhucheng-demo.json
front="tcp://127.0.0.1:$port"
events="tcp://127.0.0.1:$((port + 1))"
http="127.0.0.1:$((port + 2))"

for b in hotline-dispatcher hotline-worker hotline; do
    if [ ! -x "$bindir/$b" ]; then
        echo "demo: $bindir/$b is missing; run make first" >&2
        exit 1
    fi
done

rm -rf "$dir"
mkdir -p "$dir"
export HOTLINE_CONFIG="$top/$config"
hl() { "$bindir/hotline" --connect "$front" --events "$events" --timeout 2000 "$@"; }

pids=()
disp_pid=
stopping=0

stop_all() {
    [ "$stopping" = 1 ] && return
    stopping=1
    trap '' INT TERM
    echo
    echo "== 演示结束，正在停止 / stopping =="
    # workers first, so the dispatcher still answers the summary
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    if [ -n "$disp_pid" ] && kill -0 "$disp_pid" 2>/dev/null; then
        summary
        kill -TERM "$disp_pid" 2>/dev/null
        wait "$disp_pid" 2>/dev/null
    fi
    echo "数据库与日志 / database and logs: $dir/"
}

summary() {
    echo "== 工单汇总 / tickets by status =="
    local s n
    for s in triage dispatched accepted resolved closed merged cancelled; do
        n=$(hl -q list --all --status "$s" 2>/dev/null | wc -l)
        printf '  %-10s %s\n' "$s" "$n"
    done
    echo "== 预警 / alerts: $(hl -q alerts --all 2>/dev/null | wc -l) =="
    hl stats 2>/dev/null | head -12
}

trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

# ---- the dispatcher ---------------------------------------------------------
# setsid: a terminal's Ctrl-C reaches this script only, which then stops the
# others in order (workers, summary, dispatcher).
setsid "$bindir/hotline-dispatcher" -c "$config" --db "$dir/hotline.db" \
    --front "$front" --events "$events" --http "$http" >"$dir/dispatcher.log" 2>&1 &
disp_pid=$!
ready=0
for _ in $(seq 1 50); do
    if hl --timeout 200 --retries 1 units >/dev/null 2>&1; then ready=1; break; fi
    if ! kill -0 "$disp_pid" 2>/dev/null; then break; fi
    sleep 0.2
done
if [ "$ready" != 1 ]; then
    echo "demo: the dispatcher did not start; its log ($dir/dispatcher.log):" >&2
    tail -20 "$dir/dispatcher.log" >&2
    exit 1
fi

# ---- workers: unit and auto policy (sign delay, finish delay after signing) --
# The SLA of the demo config: sign within 20 s, finish within 60 s (yellow at
# 80 %). Fast units stay green; slow ones earn yellow and red flags; the
# second station of 贾悦镇 has no worker, so its tickets escalate tier by tier.
fast="sign=2s,finish=10s,return=0.03"
slow="sign=17s,finish=50s,return=0.05"
late="sign=25s,finish=45s"
workers=(
    "zc.mizhou:$fast" "zc.longdu:$fast" "zc.jiayue:$slow" "zc.kaifaqu:$fast" "zc.xiangzhou:$late"
    "zc.mizhou.g01:$fast" "zc.mizhou.g02:$fast" "zc.longdu.g01:$slow" "zc.longdu.g02:$fast"
    "zc.jiayue.g01:$fast" "zc.kaifaqu.g01:$fast" "zc.kaifaqu.g02:$late"
    "zc.xiangzhou.g01:$fast" "zc.xiangzhou.g02:$fast"
    "zc.water:$fast" "zc.power:$fast" "zc.gas:sign=2s,finish=10s" "zc.housing:$slow"
    "zc.enforce:$late" "zc.market:$fast" "zc.hrss:$fast" "zc.emergency:sign=2s,finish=12s"
    "zc.transport:$fast" "zc.eco:$slow" "zc.police:$fast" "zc.approval:$fast"
)
n=0
for w in "${workers[@]}"; do
    unit=${w%%:*}
    policy=${w#*:}
    n=$((n + 1))
    setsid "$bindir/hotline-worker" --unit "$unit" --connect "$front" \
        --db "$dir/worker-$unit.db" --auto "$policy,seed=$n" >"$dir/worker-$unit.log" 2>&1 &
    pids+=($!)
done

env_hint=""
if [ "$port" != 7450 ]; then env_hint="HOTLINE_CONNECT=$front HOTLINE_EVENTS=$events "; fi
cat <<EOF
== 诸城市12345政务服务便民热线 演示 / Zhucheng 12345 hotline demo ==
调度中心 dispatcher  $front (events $events), pid $disp_pid, log $dir/dispatcher.log
督办大屏 dashboard   http://$http/   (Open311: http://$http/open311/v2/discovery.json)
工作端 workers       ${#pids[@]} units in auto mode (logs $dir/worker-*.log)
演示时限 demo SLA    签收 20 秒、办结 60 秒（80% 黄牌，到期红牌）

在另一个终端输入 / in another terminal:
  ${env_hint}bin/hotline watch                  实时事件与红黄牌 (live events, flags in colour)
  ${env_hint}bin/hotline stats --role manager   考核排名 (unit ranking)
  ${env_hint}bin/hotline list                   工单列表 (tickets)
  ${env_hint}bin/hotline alerts                 红黄牌预警 (alerts)
  ${env_hint}bin/hotline show 工单号            工单详情与时间线 (one ticket)
按 Ctrl-C 结束 / Ctrl-C stops everything.
EOF
[ "$seconds" != 0 ] && echo "（将在 $seconds 秒后自动结束 / stopping after $seconds s）"
echo

# ---- the calls ----------------------------------------------------------------
# category|description|urgency (blank = normal)
calls=(
    "env.noise|小区旁边工地夜间施工，晚上十一点以后还在打桩，噪音很大影响休息|"
    "env.noise|楼下烧烤店每天营业到凌晨两点，音响开得很大|"
    "road.damage|村口道路塌陷出现大坑，电动车晚上经过容易摔倒|"
    "city.illegal_building|邻居在楼顶私自搭建彩钢板房，存在安全隐患|"
    "housing.property|物业长期不清理楼道垃圾，电梯坏了半个月没人修|"
    "misc.other|村里广场的健身器材损坏，希望尽快维修|"
    "safety.hazard|路边电线杆倾斜，电线垂到地面，担心漏电伤人|urgent"
    "env.burning|村西头麦田有人焚烧秸秆，浓烟很大|urgent"
    "env.litter|小区东门垃圾桶满了好几天没人清运，气味很大|"
    "social.neighbor|邻居家的狗每天半夜叫，多次沟通无果|"
    "water.outage|家里从早上开始停水，没有接到任何通知|"
    "water.quality|自来水发黄有异味，烧开后有沉淀|"
    "power.outage|我们这片突然停电两个多小时了，冰箱里的东西都要坏了|urgent"
    "gas.leak|楼道里有很浓的燃气味，怀疑管道泄漏|critical"
    "road.light|路灯不亮已经一个星期，晚上出行很不安全|"
    "road.manhole|人行道上井盖缺失，已经有老人差点掉下去|urgent"
    "city.stall|学校门口流动摊贩占道经营，上下学时段非常拥堵|"
    "labor.wages|在建筑工地干了三个月，老板一直拖欠工资不给|"
    "labor.social_insurance|咨询灵活就业人员社保怎么缴纳|"
    "market.food_safety|在超市买的牛奶已经过期了还在卖|"
    "market.price|加油站实际价格明显高于公示价格|"
    "traffic.order|路口红绿灯坏了，车辆乱行很危险|"
    "traffic.bus|希望增开到开发区的公交线路，早高峰太挤|"
    "env.pollution|河道里有工厂偷排污水，水面发黑发臭|"
    "enterprise.service|企业办理施工许可证材料反复被退回，希望给予指导|"
    "road.damage|G206国道诸城段路面有大坑，货车经过很危险|"
    "safety.hazard|厂房起火冒浓烟，附近有居民楼|critical"
)
# cells of the towns that have workers (密州, 龙都, 贾悦, 开发区, 相州)
cells=(370782001001001 370782001001002 370782001002001 370782001002002
       370782002001001 370782002001003 370782002002001 370782002002002
       370782102001001 370782102001003 370782102002001 370782102002002
       370782400001001 370782400002001 370782400002002
       370782108001001 370782108002001 370782108002002)
# points inside those towns (lat lon), located by the dispatcher
points=("35.99 119.41" "35.97 119.36" "35.92 119.44" "35.93 119.31" "35.95 119.15"
        "36.07 119.44" "36.15 119.35" "36.25 119.45")
addresses=("市区和平街附近" "东关大街一带" "密州路与东坡街路口" "人民路某小区")
surnames=(王 李 张 刘 陈 杨 赵 黄 周 吴 徐 孙 马 朱 胡 郭)
towns_with_workers=(zc.mizhou zc.longdu zc.kaifaqu zc.xiangzhou)
declare -a past=()
declare -A supervised=()

log_call() { # what the operator sees, condensed
    local out=$1
    printf '%s\n' "$out" | grep -E '^(工单|重复来电)|主办单位' | sed 's/^ */           /;1s/^ *//' |
        sed "1s/^/[$(date +%H:%M:%S)] /"
}

one_call() {
    local phone cat desc urg loc=() t r who
    r=$((RANDOM % 100))
    if [ "$r" -lt 15 ] && [ "${#past[@]}" -gt 0 ]; then
        # a repeat: the same caller about the same problem at the same place
        IFS='|' read -r phone cat cellid <<<"${past[$((RANDOM % ${#past[@]}))]}"
        echo "[$(date +%H:%M:%S)] 来电 $phone 再次反映（重复来电）"
        local out
        out=$(hl call --category "$cat" --desc "又打来催问：问题还没有解决" --phone "$phone" \
            --cell "$cellid" 2>&1)
        log_call "$out"
        return
    fi
    IFS='|' read -r cat desc urg <<<"${calls[$((RANDOM % ${#calls[@]}))]}"
    phone="1380636$(printf '%04d' $((RANDOM % 40)))"
    who="${surnames[$((RANDOM % ${#surnames[@]}))]}$([ $((RANDOM % 2)) = 0 ] && echo 先生 || echo 女士)"
    local cellid=""
    t=$((RANDOM % 6))
    if [ "$t" -le 2 ]; then
        cellid=${cells[$((RANDOM % ${#cells[@]}))]}
        loc=(--cell "$cellid")
    elif [ "$t" -le 4 ]; then
        read -r lat lon <<<"${points[$((RANDOM % ${#points[@]}))]}"
        loc=(--lat "$lat" --lon "$lon")
    else
        # no location: territorial categories land in triage for the operator
        loc=(--address "${addresses[$((RANDOM % ${#addresses[@]}))]}")
    fi
    echo "[$(date +%H:%M:%S)] 来电 $who $phone：$desc"
    local out
    out=$(hl call --category "$cat" --desc "$desc" --phone "$phone" --name "$who" \
        ${urg:+--urgency "$urg"} "${loc[@]}" 2>&1)
    log_call "$out"
    [ -n "$cellid" ] && past+=("$phone|$cat|$cellid")
}

centre_work() {
    local no i=0 r res
    # 派单: what routing could not place, by the address, to a town
    for no in $(hl -q list --status triage --limit 5 2>/dev/null); do
        local town=${towns_with_workers[$((RANDOM % ${#towns_with_workers[@]}))]}
        hl -q dispatch "$no" "$town" --note "按来电地址人工派单" >/dev/null 2>&1 &&
            echo "[$(date +%H:%M:%S)] 派单 $no → $town（待派工单人工派单）"
    done
    # 回访: resolved tickets, most callers satisfied
    for no in $(hl -q list --status resolved --limit 5 2>/dev/null); do
        r=$((RANDOM % 10))
        if [ "$r" -lt 7 ]; then res=satisfied; elif [ "$r" -lt 9 ]; then res=basic; else res=unsatisfied; fi
        hl -q callback "$no" "$res" --note "电话回访" >/dev/null 2>&1 &&
            echo "[$(date +%H:%M:%S)] 回访 $no：$res"
    done
    # 督办: a manager presses a red-flagged ticket once
    for no in $(hl -q list --flag red --status dispatched,accepted --limit 3 2>/dev/null); do
        [ -n "${supervised[$no]:-}" ] && continue
        supervised[$no]=1
        hl -q --role manager supervise "$no" "红牌工单，请加快办理" >/dev/null 2>&1 &&
            echo "[$(date +%H:%M:%S)] 督办 $no（红牌）"
        i=$((i + 1))
        [ "$i" -ge 1 ] && break
    done
}

start=$(date +%s)
while :; do
    if ! kill -0 "$disp_pid" 2>/dev/null; then
        echo "demo: the dispatcher exited; see $dir/dispatcher.log" >&2
        disp_pid=
        exit 1
    fi
    if [ "$seconds" != 0 ] && [ $(($(date +%s) - start)) -ge "$seconds" ]; then break; fi
    one_call
    centre_work
    sleep "$interval"
done
stop_all
trap - EXIT
exit 0
