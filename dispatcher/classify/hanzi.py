"""Traditional → simplified characters, script detection and Chinese numerals.

A hand-written table instead of OpenCC: the classifier only needs the characters its
rules and places use (chat vocabulary, the seed articles), and must stay dependency-free.
Character-level mapping is enough here because every rule is written in simplified form.
"""

from __future__ import annotations

from typing import Final, Literal


def _words(text: str) -> list[str]:
    return text.split()


# Pairs "TS" (traditional, simplified), space separated. Variants map to the same target.
_PAIRS: Final = _words(
    """
愛爱 礙碍 襖袄 罷罢 擺摆 辦办 幫帮 綁绑 寶宝 飽饱 報报 備备 貝贝 筆笔 邊边 變变 標标 錶表
別别 賓宾 餅饼 並并 撥拨 補补 裡里 裏里 層层 產产 長长 場场 廠厂 車车 徹彻 塵尘 陳陈 稱称
誠诚 遲迟 齒齿 衝冲 沖冲 蟲虫 觸触 處处 傳传 牀床 創创 詞词 從从 錯错 達达 帶带 單单 擔担
膽胆 當当 黨党 導导 燈灯 鄧邓 敵敌 遞递 點点 電电 墊垫 釣钓 調调 東东 動动 凍冻 鬥斗 獨独
讀读 斷断 隊队 對对 頓顿 奪夺 兒儿 爾尔 發发 髮发 罰罚 範范 飯饭 訪访 紡纺 飛飞 費费 豐丰
風风 鳳凤 膚肤 婦妇 復复 複复 負负 該该 蓋盖 乾干 幹干 趕赶 鋼钢 個个 給给 貢贡 夠够 構构
顧顾 關关 觀观 館馆 慣惯 廣广 歸归 規规 櫃柜 貴贵 國国 過过 鍋锅 漢汉 號号 後后 話话 畫画
劃划 壞坏 歡欢 環环 換换 喚唤 黃黄 揮挥 輝辉 會会 彙汇 匯汇 夥伙 獲获 貨货 禍祸 機机 積积
擊击 雞鸡 極极 級级 幾几 擠挤 計计 記记 際际 濟济 繼继 夾夹 價价 駕驾 間间 艱艰 檢检 減减
簡简 見见 薦荐 鑒鉴 鍵键 將将 獎奖 講讲 醬酱 膠胶 腳脚 較较 階阶 節节 潔洁 結结 緊紧 僅仅
盡尽 儘尽 進进 經经 驚惊 淨净 競竞 舊旧 舉举 劇剧 據据 懼惧 捲卷 覺觉 決决 絕绝 軍军 開开
顆颗 課课 懇恳 褲裤 塊块 虧亏 擴扩 來来 蘭兰 藍蓝 覽览 爛烂 勞劳 樂乐 淚泪 類类 離离 禮礼
歷历 曆历 厲厉 麗丽 聯联 連连 憐怜 臉脸 練练 煉炼 糧粮 兩两 輛辆 療疗 獵猎 鄰邻 隣邻 臨临
靈灵 齡龄 領领 劉刘 龍龙 樓楼 爐炉 陸陆 錄录 綠绿 亂乱 輪轮 論论 羅罗 邏逻 馬马 媽妈 嗎吗
買买 賣卖 邁迈 麥麦 滿满 貓猫 門门 們们 夢梦 麵面 滅灭 鳴鸣 納纳 難难 鬧闹 惱恼 腦脑 內内
膩腻 鳥鸟 寧宁 農农 濃浓 諾诺 歐欧 毆殴 盤盘 賠赔 噴喷 騙骗 飄飘 蘋苹 憑凭 撲扑 齊齐 騎骑
啟启 啓启 氣气 棄弃 遷迁 錢钱 淺浅 槍枪 牆墙 搶抢 橋桥 竅窍 親亲 輕轻 慶庆 窮穷 區区 驅驱
權权 勸劝 確确 讓让 擾扰 熱热 認认 榮荣 軟软 灑洒 傘伞 喪丧 掃扫 殺杀 傷伤 燒烧 紹绍 設设
攝摄 審审 腎肾 滲渗 聲声 勝胜 繩绳 聖圣 濕湿 師师 實实 時时 識识 勢势 試试 視视 適适 釋释
壽寿 獸兽 書书 輸输 樹树 術术 數数 帥帅 雙双 誰谁 稅税 順顺 說说 絲丝 鬆松 訴诉 雖虽 隨随
歲岁 孫孙 損损 鎖锁 臺台 檯台 颱台 態态 攤摊 談谈 歎叹 湯汤 燙烫 討讨 題题 體体 條条 鐵铁
聽听 廳厅 頭头 圖图 塗涂 團团 託托 脫脱 襪袜 灣湾 萬万 網网 圍围 為为 爲为 偉伟 衛卫 穩稳
問问 臥卧 烏乌 無无 務务 誤误 霧雾 係系 繫系 細细 戲戏 嚇吓 鮮鲜 閒闲 顯显 險险 現现 線线
綫线 縣县 餡馅 鄉乡 詳详 響响 項项 曉晓 協协 寫写 謝谢 興兴 兇凶 學学 尋寻 訓训 訊讯 壓压
啞哑 亞亚 煙烟 鹽盐 嚴严 顏颜 驗验 陽阳 養养 樣样 藥药 爺爷 業业 葉叶 頁页 醫医 儀仪 億亿
憶忆 義义 議议 藝艺 異异 陰阴 銀银 飲饮 隱隐 應应 營营 擁拥 湧涌 優优 郵邮 猶犹 遊游 魚鱼
與与 語语 預预 園园 員员 圓圆 遠远 願愿 約约 躍跃 閱阅 運运 雜杂 災灾 載载 暫暂 贊赞 髒脏
臟脏 責责 擇择 賊贼 紮扎 閘闸 債债 戰战 張张 漲涨 帳帐 脹胀 這这 針针 診诊 鎮镇 陣阵 爭争
癥症 證证 徵征 職职 執执 紙纸 緻致 製制 質质 鐘钟 種种 眾众 衆众 週周 豬猪 燭烛 囑嘱 築筑
專专 磚砖 轉转 莊庄 裝装 壯壮 狀状 墜坠 準准 資资 綜综 總总 縱纵 組组 鑽钻 暈晕 嘔呕 腫肿
癢痒 瘋疯 癱瘫 癲癫 嚥咽 護护 洩泄 閥阀 鑰钥 竊窃 蹤踪 騷骚 嬰婴 餵喂 覓觅 丟丢 遺遗 寵宠
碼码 頻频 棟栋 庫库 廚厨 廁厕 壺壶 饑饥 餓饿 譯译 閩闽 聾聋 糾纠 紛纷 訟讼 繳缴 貸贷 戶户
駛驶 鈴铃 絡络 欄栏 絆绊 瀉泻 劑剂 鈕钮 鬱郁 廢废 剎刹 嬤嬷 嬸婶 誼谊 習习 註注 冊册 掃扫
購购 餘余 額额 訂订 驛驿 兌兑 鈔钞 闆板 賺赚 測测 終终 殯殡 墳坟 嚴严 緩缓 闖闯 詐诈 監监
鏡镜 崗岗 謊谎 著着 於于 麼么 甚什 沒没 還还 這这 個个 請请 懷怀 溫温 彈弹 擰拧 駐驻 灶灶
竈灶 撐撑 鄭郑 廈厦 頂顶 紅红 喚唤 嘆叹 腦脑 悶闷 懸悬 攜携 稱称 鏈链 擬拟 遙遥 錘锤 釘钉
鍊链 鋪铺 舖铺 輔辅 鑄铸 鋸锯 懶懒 驟骤 陝陕 閃闪 窩窝 蓮莲 淹淹 濺溅 燜焖 樁桩 臍脐 顫颤
"""
)

T2S: Final[dict[str, str]] = {}
for _pair in _PAIRS:
    if len(_pair) == 2 and _pair[0] != _pair[1]:
        T2S.setdefault(_pair[0], _pair[1])

_TABLE: Final = str.maketrans(T2S)

# Simplified forms that are also everyday traditional characters: no evidence of script.
_AMBIGUOUS: Final = frozenset("里台干发面只系松后周余准冲斗几卷表别向凶历制致范于么什着板症征郁注")
_TRAD_ONLY: Final = frozenset(T2S)
_SIMP_ONLY: Final = frozenset(T2S.values()) - _TRAD_ONLY - _AMBIGUOUS

Script = Literal["simplified", "traditional", "mixed", "unknown"]


def to_simplified(text: str) -> str:
    return text.translate(_TABLE)


def detect_script(text: str) -> Script:
    """Which script the writer used, so a reply can be written in the same one."""
    trad = any(ch in _TRAD_ONLY for ch in text)
    simp = any(ch in _SIMP_ONLY for ch in text)
    if trad and simp:
        return "mixed"
    if trad:
        return "traditional"
    if simp or any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "simplified"
    return "unknown"


_DIGITS: Final = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9})
CN_NUMERAL_CHARS: Final = "零〇一二两三四五六七八九十百"


def parse_number(token: str) -> int | None:
    """'12' / '十二' / '二十三' / '一百零二' / '五零二' (digit by digit) → int."""
    if token.isascii() and token.isdigit():
        return int(token)
    if not token or any(ch not in CN_NUMERAL_CHARS for ch in token):
        return None
    if "十" not in token and "百" not in token:
        # Room numbers are read digit by digit: 五零二 → 502.
        return int("".join(str(_DIGITS[ch]) for ch in token))
    total, current = 0, 0
    for ch in token:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[ch]
    return total + current
