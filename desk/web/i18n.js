// The page's words in Russian (default) and English.
const words = {
  ru: {
    title: 'Рабочее место оператора', language: 'Язык', signin: 'Вход', signout: 'Выйти', user: 'Пользователь',
    password: 'Пароль', state: 'Состояние', now: 'Сейчас', queuesIn: 'Войти в очереди', queuesOut: 'Выйти из очередей',
    ready: 'Готов', pause: 'Пауза', pauseReason: 'Причина паузы', readyNow: 'Готов сейчас', card: 'Карточка звонящего',
    caller: 'Номер', lang: 'Язык звонящего', queue: 'Очередь', waited: 'Ожидание', ivrPath: 'Путь в IVR',
    digits: 'Нажатые цифры', escalations: 'Эскалации', outcomes: 'Итоги', history: 'Прошлые звонки', date: 'Дата',
    agent: 'Оператор', outcome: 'Итог', noHistory: 'Нет звонков за период FCR', resolved: 'Решено', yes: 'да', no: 'нет',
    category: 'Категория', notes: 'Заметки', save: 'Сохранить итог', escalate: 'Эскалация на вторую линию',
    reason: 'Причина', escalateBtn: 'Эскалировать', today: 'Мои показатели сегодня', team: 'Команда',
    answered: 'Принято звонков', aht: 'Среднее время обработки, с', fcr: 'FCR по итогам', missed: 'Пропущено',
    escalated: 'Эскалаций', wrapupLeft: 'постобработка, осталось {s} с', saved: 'Итог сохранён',
    escalatedOk: 'Звонок передан на вторую линию', ringing: 'Входящий звонок', badLogin: 'Неверное имя или пароль',
    locked: 'Слишком много попыток входа, попробуйте позже', reconnecting: 'Связь потеряна, переподключение…',
    live: 'На связи', from: 'от', seconds: 'с',
    'logged-out': 'не в очередях', available: 'готов', ringingState: 'звонок', 'on-call': 'разговор',
    'wrap-up': 'постобработка', paused: 'пауза',
    r_resolved: 'решено', r_not_resolved: 'не решено', r_escalated: 'эскалировано', r_answered: 'отвечен',
    r_abandoned: 'брошен', r_timeout: 'таймаут',
    wallboard: 'Табло', updated: 'Обновлено', tv: 'Режим ТВ', waiting: 'Ждут', longest: 'Дольше всех',
    slNow: 'SL сейчас', slToday: 'SL сегодня', target: 'Цель', offered: 'Поступило', answeredQ: 'Принято',
    abandoned: 'Брошено', noQueues: 'Нет очередей', agentsNow: 'Операторы', agentsByState: 'Операторы по состояниям', teamCol: 'Команда',
    inState: 'В состоянии', fcrToday: 'FCR сегодня', escToday: 'Эскалации сегодня', none: '—',
    pastTarget: 'ниже цели', fcrDisposition: 'по итогам', fcrCombined: 'сводный',
    fcrLine_all: 'все линии', fcrLine_first: 'первая линия', fcrLine_second: 'вторая линия',
    escRate: 'Доля эскалаций', secondReached: 'Дошли до второй линии',
    review: 'Низкие оценки', rating: 'Оценка', solvedQ: 'Решено', recordingCol: 'Запись', download: 'скачать',
    noReview: 'Нет звонков с низкой оценкой', noRecording: 'нет записи',
    liveCalls: 'Разговоры сейчас', since: 'С', noLive: 'Сейчас нет разговоров', mon_actions: 'Подключиться',
    mon_hint: 'Звук — в браузере (телефон на этой странице ответит сам) или на вашем SIP-телефоне (он зазвонит, ответьте).',
    mon_audio: 'Звук', mon_audio_browser: 'в браузере', mon_audio_phone: 'на телефоне', mon_connecting: 'Подключаем телефон в браузере…', mon_listen: 'Слушать', mon_whisper: 'Суфлировать',
    mon_barge: 'Вмешаться', mon_leave: 'Отключиться', mon_ringing: 'Звоним на ваш телефон…', mon_on: 'Подключены: {mode}',
    mon_left: 'Вы отключились от разговора',
    // warm escalation and callbacks (followup.js)
    consultBtn: 'Консультация', consult: 'Консультация со второй линией', consultWith: 'Консультация с',
    consultComplete: 'Перевести звонок', consultCancel: 'Вернуться к звонящему',
    consultStarted: 'Звонящий на удержании, вызываем вторую линию', consultCompleted: 'Звонок переведён на вторую линию',
    consultReturned: 'Вы снова со звонящим',
    cs_waiting: 'ждём оператора', cs_ringing: 'звонок оператору', cs_talking: 'разговор', cs_completed: 'переведён',
    cs_returned: 'возвращён', 'cs_caller-hangup': 'звонящий положил трубку', 'cs_agent-left': 'первая линия отключилась',
    callbacks: 'Перезвоны', cbAt: 'Перезвонить', cbBtn: 'Запланировать перезвон', cbWhen: 'Укажите время перезвона',
    cbScheduled: 'Перезвон запланирован', myCallbacks: 'Мои перезвоны', cbDue: 'Когда', noCallbacks: 'Нет перезвонов',
    cb_scheduled: 'запланирован', cb_queued: 'в очереди', cb_connected: 'дозвонились', cb_no_answer: 'не ответили',
    cb_failed: 'не удался', cb_expired: 'истёк', cb_refused: 'запрещён', cb_cancelled: 'отменён',
    csi: 'CSI моих звонков',
  },
  en: {
    title: "Agent's desk", language: 'Language', signin: 'Sign in', signout: 'Sign out', user: 'User',
    password: 'Password', state: 'State', now: 'Now', queuesIn: 'Log in to queues', queuesOut: 'Log out of queues',
    ready: 'Ready', pause: 'Pause', pauseReason: 'Pause reason', readyNow: 'Ready now', card: "Caller's card",
    caller: 'Number', lang: "Caller's language", queue: 'Queue', waited: 'Waited', ivrPath: 'IVR path',
    digits: 'Digits pressed', escalations: 'Escalations', outcomes: 'Outcomes', history: 'Previous calls', date: 'Date',
    agent: 'Agent', outcome: 'Outcome', noHistory: 'No calls in the FCR window', resolved: 'Resolved', yes: 'yes', no: 'no',
    category: 'Category', notes: 'Notes', save: 'Save outcome', escalate: 'Escalate to second line',
    reason: 'Reason', escalateBtn: 'Escalate', today: 'My figures today', team: 'Team',
    answered: 'Calls answered', aht: 'Average handle time, s', fcr: 'FCR by outcome', missed: 'Missed rings',
    escalated: 'Escalations', wrapupLeft: 'wrap-up, {s} s left', saved: 'Outcome saved',
    escalatedOk: 'Call handed to second line', ringing: 'Incoming call', badLogin: 'Wrong user name or password',
    locked: 'Too many failed logins, try later', reconnecting: 'Connection lost, reconnecting…',
    live: 'Connected', from: 'from', seconds: 's',
    'logged-out': 'logged out', available: 'ready', ringingState: 'ringing', 'on-call': 'on a call',
    'wrap-up': 'wrap-up', paused: 'paused',
    r_resolved: 'resolved', r_not_resolved: 'not resolved', r_escalated: 'escalated', r_answered: 'answered',
    r_abandoned: 'abandoned', r_timeout: 'timed out',
    wallboard: 'Wallboard', updated: 'Updated', tv: 'TV mode', waiting: 'Waiting', longest: 'Longest wait',
    slNow: 'SL now', slToday: 'SL today', target: 'Target', offered: 'Offered', answeredQ: 'Answered',
    abandoned: 'Abandoned', noQueues: 'No queues', agentsNow: 'Agents', agentsByState: 'Agents by state', teamCol: 'Team',
    inState: 'In state for', fcrToday: 'FCR today', escToday: 'Escalations today', none: '—',
    pastTarget: 'below target', fcrDisposition: 'by outcome', fcrCombined: 'combined',
    fcrLine_all: 'all lines', fcrLine_first: 'first line', fcrLine_second: 'second line',
    escRate: 'Escalation rate', secondReached: 'Reached second line',
    review: 'Low ratings', rating: 'Rating', solvedQ: 'Solved', recordingCol: 'Recording', download: 'download',
    noReview: 'No calls rated low', noRecording: 'no recording',
    liveCalls: 'Live calls', since: 'Since', noLive: 'No calls now', mon_actions: 'Join',
    mon_hint: 'The audio is in the browser (the phone on this page answers by itself) or on your SIP desk phone (it rings, answer it).',
    mon_audio: 'Audio', mon_audio_browser: 'in the browser', mon_audio_phone: 'on the phone', mon_connecting: 'Connecting the browser phone…', mon_listen: 'Listen', mon_whisper: 'Whisper',
    mon_barge: 'Barge', mon_leave: 'Leave', mon_ringing: 'Ringing your phone…', mon_on: 'Joined: {mode}',
    mon_left: 'You left the call',
    // warm escalation and callbacks (followup.js)
    consultBtn: 'Consult', consult: 'Consulting second line', consultWith: 'Consulting',
    consultComplete: 'Transfer the call', consultCancel: 'Return to the caller',
    consultStarted: 'Caller on hold, calling second line', consultCompleted: 'Call transferred to second line',
    consultReturned: 'Back with the caller',
    cs_waiting: 'waiting for an agent', cs_ringing: 'ringing an agent', cs_talking: 'talking', cs_completed: 'transferred',
    cs_returned: 'returned', 'cs_caller-hangup': 'the caller hung up', 'cs_agent-left': 'first line left',
    callbacks: 'Callbacks', cbAt: 'Call back at', cbBtn: 'Schedule a callback', cbWhen: 'Choose when to call back',
    cbScheduled: 'Callback scheduled', myCallbacks: 'My callbacks', cbDue: 'When', noCallbacks: 'No callbacks',
    cb_scheduled: 'scheduled', cb_queued: 'in line', cb_connected: 'connected', cb_no_answer: 'no answer',
    cb_failed: 'failed', cb_expired: 'expired', cb_refused: 'refused', cb_cancelled: 'cancelled',
    csi: 'CSI of my calls',
  },
};

let current = 'ru';

// addWords adds a module's own words (softphone.js) to the table.
export function addWords(extra) {
  for (const [lang, w] of Object.entries(extra)) Object.assign(words[lang], w);
}

export function setLanguage(lang) {
  current = words[lang] ? lang : 'ru';
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll('[data-t]')) {
    el.textContent = t(el.dataset.t);
  }
}

export function language() { return current; }

// t returns the word for key, with {name} replaced from vars.
export function t(key, vars = {}) {
  let s = words[current][key] ?? words.ru[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}

// result names a call's outcome (resolved, not_resolved...; unknown ones as they are).
export function result(r) { return r ? t('r_' + r).replace(/^r_/, '') : '—'; }

// stateName names an agent state from the queue ("ringing" clashes with a word key).
export function stateName(state) { return t(state === 'ringing' ? 'ringingState' : state); }
